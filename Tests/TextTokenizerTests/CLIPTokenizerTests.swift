// CLIPTokenizer against transformers' CLIPTokenizer on the real CLIP BPE vocabulary
// (tools/make_clip_tokenizer_fixtures.py): the ids of 6,008 prompts (ASCII, accents, CJK, emoji,
// punctuation, numbers, white-space runs, special tokens, over-long prompts) equal exactly, with
// the SD 1.x pad (<|endoftext|>) and, on 500 of them, the SD 2.x pad ("!").

import Foundation
import Testing
import TestSupport
@testable import TextTokenizer

struct CLIPTokenizerCases: Decodable {
    var prompts: [String]
    var sd1: [[Int32]]
    var sd2_first500: [[Int32]]
    var pad_sd1: Int32
    var pad_sd2: Int32
}

@Suite struct CLIPTokenizerTests {
    static let folder = TestPaths.fixtures + "/clip_tokenizer"

    @Test func idsEqualTransformers() throws {
        let cases = try JSONDecoder().decode(CLIPTokenizerCases.self, from: Data(contentsOf: URL(fileURLWithPath: Self.folder + "/cases.json")))
        #expect(cases.prompts.count >= 5000 && cases.prompts.count == cases.sd1.count)
        let tokenizer = try CLIPTokenizer(directory: Self.folder)
        #expect(tokenizer.beginID == 49406 && tokenizer.endID == 49407 && tokenizer.padID == cases.pad_sd1)
        var mismatches: [String] = []
        for (prompt, expected) in zip(cases.prompts, cases.sd1) {
            let padded = expected + Array(repeating: cases.pad_sd1, count: 77 - expected.count)
            let ids = tokenizer.ids(prompt)
            if ids != padded { mismatches.append("'\(prompt)': \(ids.prefix(expected.count)) vs \(expected)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.prompts.count) differ, e.g. \(mismatches.prefix(3))")
        // SD 2.x folders pad with "!".
        let sd2 = try CLIPTokenizer(vocabulary: tokenizer.vocabulary, merges: Self.merges(), padToken: "!")
        #expect(sd2.padID == cases.pad_sd2)
        for (prompt, expected) in zip(cases.prompts, cases.sd2_first500) {
            #expect(sd2.ids(prompt) == expected + Array(repeating: cases.pad_sd2, count: 77 - expected.count), "'\(prompt)'")
        }
    }

    static func merges() throws -> [(String, String)] {
        try String(contentsOfFile: folder + "/merges.txt", encoding: .utf8).split(separator: "\n").dropFirst().map {
            let p = $0.split(separator: " ")
            return (String(p[0]), String(p[1]))
        }
    }

    @Test func malformedFoldersAreErrors() throws {
        let dir = NSTemporaryDirectory() + "clip-tok-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: dir) }  // no vocab.json
        try FileManager.default.copyItem(atPath: Self.folder + "/vocab.json", toPath: dir + "/vocab.json")
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: dir) }  // no merges.txt
        try "#version: 0.2\na b c\n".write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: dir) }  // three symbols on a line
        try "#version: 0.2\n".write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        try #"{"pad_token": "<|nope|>"}"#.write(toFile: dir + "/special_tokens_map.json", atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(directory: dir) }  // pad token not in the vocabulary
        #expect(throws: TokenizerError.self) { try CLIPTokenizer(vocabulary: ["a": 0], merges: [], padToken: "a") }
    }
}

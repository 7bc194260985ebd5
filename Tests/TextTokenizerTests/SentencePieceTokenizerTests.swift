// The Swift tokenizer reproduces spm_encode's ids for a model trained by spm_train
// (fixtures from tools/make_tokenizer_fixture.sh) and round-trips text.

import Foundation
import Testing
import TextTokenizer

@Suite struct SentencePieceTokenizerTests {
    let fixtures = Bundle.module.resourcePath! + "/Fixtures"

    @Test func encodesLikeSpmEncodeAndRoundTrips() throws {
        let tokenizer = try SentencePieceTokenizer(path: fixtures + "/tiny.model")
        #expect(tokenizer.vocabularySize == 120)
        #expect(tokenizer.paddingID == 0 && tokenizer.unknownID == 1 && tokenizer.endID == 2 && tokenizer.beginID == -1)
        let lines = try String(contentsOfFile: fixtures + "/expected.tsv", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 5)
        for line in lines {
            let parts = line.split(separator: "\t")
            let text = String(parts[0])
            let expected = parts[1].split(separator: " ").compactMap { Int32($0) }
            let ids = try tokenizer.encode(text)
            #expect(ids == expected, "ids for '\(text)'")
            if !ids.contains(tokenizer.unknownID) {
                #expect(try tokenizer.decode(ids) == text)
            }
        }
    }

    @Test func missingAndCorruptModelsAreErrors() throws {
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(path: fixtures + "/absent.model") }
        let corrupt = NSTemporaryDirectory() + "corrupt-\(UUID().uuidString).model"
        FileManager.default.createFile(atPath: corrupt, contents: Data("not a protobuf".utf8))
        defer { try? FileManager.default.removeItem(atPath: corrupt) }
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(path: corrupt) }
        #expect(throws: TokenizerError.self) { try SentencePieceTokenizer(path: fixtures) }
    }

    @Test func emptyTextEncodesToNoIds() throws {
        let tokenizer = try SentencePieceTokenizer(path: fixtures + "/tiny.model")
        #expect(try tokenizer.encode("") == [])
        #expect(try tokenizer.decode([]) == "")
    }

    @Test func decodeRejectsOutOfRangeIds() throws {
        let tokenizer = try SentencePieceTokenizer(path: fixtures + "/tiny.model")
        #expect(throws: TokenizerError.self) { try tokenizer.decode([5, 120]) }
        #expect(throws: TokenizerError.self) { try tokenizer.decode([-1]) }
    }
}

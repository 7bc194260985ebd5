// The request parsers never trap on hostile input: every field of the A1111 and OpenAI
// requests with every kind of wrong value, and seeded byte mutations of valid JSON and
// multipart bodies. Each input must parse or throw an API/CLI error (a trap fails the run).

import Foundation
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

extension ServerTests {
    struct RequestParsingTests {
        static let weird: [String] = [
            "null", "true", "-1", "0", "1e400", "-1e400", "1.5", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
            "\"\"", "\"x\"", "\"%%%\"", "[]", "[1, 2]", "[\"a\"]", "[{}]", "[{\"image\": 1}]", "[{\"image\": \"AAAA\", \"weight\": \"w\"}]",
            "{}", "{\"a\": 1}", "[null]", "[[]]", "\"data:image/png;base64,\"", "\"data:,\"",
        ]

        func accepted(_ body: () throws -> Void) -> Bool {
            do {
                try body()
                return true
            } catch is APIError {
                return false
            } catch is CLIError {
                return false
            } catch {
                Issue.record("unexpected error type: \(error)")
                return false
            }
        }

        @Test func everyFieldWithEveryWrongValue() throws {
            let uploads = try UploadStore(directory: NSTemporaryDirectory() + "parse-uploads-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: uploads.directory) }
            let keys = A1111Request.implemented.union(A1111Request.img2imgImplemented).union(A1111Request.neutral.keys)
                .union(A1111Request.img2imgNeutral.keys).union(OpenAIImageRequest.generationFields).sorted()
            var parsed = 0
            for key in keys {
                for value in Self.weird {
                    let body = Array("{\"prompt\": \"x\", \"\(key)\": \(value)}".utf8)
                    if accepted({ _ = try A1111Request(json: body, uploads: uploads) }) { parsed += 1 }
                    if accepted({ _ = try A1111Request(json: body, img2img: true, uploads: uploads) }) { parsed += 1 }
                    if accepted({ _ = try OpenAIImageRequest(json: body) }) { parsed += 1 }
                }
            }
            #expect(parsed > 0, "some combinations are valid")
        }

        /// xorshift, so the mutations are the same on every run.
        struct Mutator {
            var state: UInt64
            mutating func next(_ n: Int) -> Int {
                state ^= state << 13
                state ^= state >> 7
                state ^= state << 17
                return Int(state % UInt64(max(1, n)))
            }
            mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
                var b = bytes
                for _ in 0...next(4) {
                    switch next(4) {
                    case 0 where !b.isEmpty: b[next(b.count)] = UInt8(next(256))
                    case 1 where !b.isEmpty: b.remove(at: next(b.count))
                    case 2:
                        let tokens = Array("{}[]\",:0-e\\".utf8)
                        b.insert(tokens[next(tokens.count)], at: next(b.count + 1))
                    default:
                        if !b.isEmpty {
                            let start = next(b.count), length = next(min(16, b.count - start) + 1)
                            b.insert(contentsOf: b[start..<(start + length)], at: next(b.count + 1))
                        }
                    }
                }
                return b
            }
        }

        @Test func mutatedBodiesParseOrFailCleanly() throws {
            let uploads = try UploadStore(directory: NSTemporaryDirectory() + "parse-uploads-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: uploads.directory) }
            let png = try base64File(TestPaths.pipelineFixtures + "/init.png")
            let bodies = [
                #"{"prompt": "folder icon", "seed": 5, "steps": 3, "sampler_name": "Euler", "n_iter": 2, "styles": ["tango"], "style_strength": 0.5}"#,
                "{\"prompt\": \"x\", \"init_images\": [\"\(png.prefix(200))\"], \"denoising_strength\": 0.5, \"resize_mode\": 1, \"style_images\": [{\"image\": \"AAAA\", \"weight\": 2}]}",
                #"{"prompt": "x", "n": 2, "size": "64x64", "response_format": "b64_json", "seed": 1, "guidance": 3}"#,
            ].map { Array($0.utf8) }
            var mutator = Mutator(state: 0x9E37_79B9_7F4A_7C15)
            for round in 0..<6000 {
                let body = mutator.mutate(bodies[round % bodies.count])
                _ = accepted { _ = try A1111Request(json: body, uploads: uploads) }
                _ = accepted { _ = try A1111Request(json: body, img2img: true, uploads: uploads) }
                _ = accepted { _ = try OpenAIImageRequest(json: body) }
            }
            let (form, headers) = multipartBody(fields: [("prompt", "x"), ("n", "2"), ("strength", "0.5")],
                                                files: [("image", "a.png", Data(base64Encoded: png) ?? Data())])
            let formBytes = Array(buffer: form), contentType = headers[.contentType]
            for _ in 0..<3000 {
                let body = mutator.mutate(formBytes)
                _ = accepted { _ = try OpenAIImageRequest(form: MultipartForm(body: body, contentType: contentType), uploads: uploads) }
            }
            for text in ["", "data:", "data:image/png;base64,", "====", "A", "AAAA\n\r\t AAAA", String(repeating: "/", count: 4096)] {
                _ = accepted { _ = try UploadStore.decodeBase64(text, field: "f") }
            }
        }
    }
}

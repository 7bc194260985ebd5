// `stylediff serve`'s AUTOMATIC1111 routes over real HTTP on loopback (HummingbirdTesting .live)
// with the tiny fixture model: the same PNG bytes as `stylediff generate`, samplers and models,
// API key, 400/413/422 for bad requests, 429 past the queue.

import Foundation
import Hummingbird
import HummingbirdTesting
import PNGIO
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

extension ServerTests {
    @Suite(.serialized) struct A1111RoutesTests {
        static let runner = try! Runner(modelDirectory: TestPaths.fixtureModel)

        func app(apiKey: String? = nil, queue: Int = 4) throws -> some ApplicationProtocol {
            try serverApp(Self.runner) { ($0.apiKey, $0.queueLimit) = (apiKey, queue) }
        }

        func body(_ json: String) -> ByteBuffer { ByteBuffer(string: json) }

        @Test func txt2imgGivesTheBytesOfGenerate() async throws {
            let dir = NSTemporaryDirectory() + "serve-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            // The CLI's image for the same settings.
            let generate = try Generate.parse(["folder icon", "--style", "papirus", "--steps", "3", "--seed", "5", "--scheduler", "euler",
                                               "--model", TestPaths.fixtureModel, "-o", dir + "/cli.png"])
            try generate.run()
            let cli = try Data(contentsOf: URL(fileURLWithPath: dir + "/cli.png"))
            try await app().test(.live) { client in
                let port = try #require(client.port)
                let request = #"{"prompt": "folder icon", "style": "papirus", "steps": 3, "seed": 5, "sampler_name": "Euler", "n_iter": 2}"#
                do {
                    let response = try await send(port, "/sdapi/v1/txt2img", json: request)
                    #expect(response.status == .ok)
                    #expect(response.headers[.connection] == "close", "generation answers close their connection")
                    let object: [String: Any]? = response.json
                    let images = try #require(object?["images"] as? [String])
                    #expect(images.count == 2)
                    #expect(Data(base64Encoded: images[0]) == cli, "the server's PNG is the CLI's, byte for byte")
                    let info = try #require((object?["info"] as? String).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
                    #expect(info["all_seeds"] as? [Int] == [5, 6] && info["sampler_name"] as? String == "euler")
                    let second = try PNGCodec.decode(Array(try #require(Data(base64Encoded: images[1]))))
                    #expect(second.texts.first { $0.keyword == "parameters" }?.text.contains("Seed: 6") == true)
                }
                let samplers = try await send(port, "/sdapi/v1/samplers", method: .get)
                let names = (try JSONSerialization.jsonObject(with: Data(buffer: samplers.body)) as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == ["DDIM", "Euler", "DPM++ 2M", "PLMS", "DDPM", "LCM", "TCD"])
                let models = try JSONSerialization.jsonObject(with: Data(buffer: try await send(port, "/sdapi/v1/sd-models", method: .get).body)) as? [[String: Any]]
                #expect(models?.first?["sha256"] as? String == Self.runner.modelHash)
            }
        }

        @Test func badRequestsAreAnsweredClearly() async throws {
            try await app().test(.live) { client in
                let port = try #require(client.port)
                for (json, status, detail) in [
                    ("{not json", HTTPResponse.Status.badRequest, "JSON object"),
                    (#"{"prompt": "x", "enable_hr": true}"#, .unprocessableContent, "enable_hr"),
                    (#"{"prompt": "x", "steps": "many"}"#, .unprocessableContent, "steps"),
                    (#"{"prompt": "x", "sampler_name": "LMS Karras"}"#, .unprocessableContent, "LMS Karras"),
                    (#"{"prompt": "x", "cfg_scale": 500}"#, .unprocessableContent, "guidance"),
                    (#"{"prompt": "x", "width": 100}"#, .unprocessableContent, "multiple of 8"),
                    (#"{"prompt": "x", "enable_hr": false, "restore_faces": false, "steps": 1}"#, .ok, ""),
                ] {
                    let response = try await send(port, "/sdapi/v1/txt2img", json: json)
                    #expect(response.status == status, "\(json): \(response.status)")
                    #expect(detail.isEmpty || response.text.contains(detail), "\(json): \(response.text.prefix(200))")
                }
                let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: StyleDiffServer.maximumBody + 1)
                let response = try await send(port, "/sdapi/v1/txt2img", body: huge)
                #expect(response.status == .contentTooLarge, "\(response.text)")
            }
        }

        @Test func apiKeyIsRequiredOnEveryRoute() async throws {
            try await app(apiKey: "s3cret").test(.live) { client in
                let port = try #require(client.port)
                for headers: HTTPFields in [[:], [.authorization: "Bearer wrong"]] {
                    for (path, method) in [("/sdapi/v1/samplers", HTTPRequest.Method.get), ("/sdapi/v1/progress", .get), ("/openapi.json", .get),
                                           ("/sdapi/v1/txt2img", .post), ("/sdapi/v1/img2img", .post), ("/sdapi/v1/interrupt", .post),
                                           ("/v1/images/generations", .post), ("/v1/images/edits", .post)] {
                        let answer = try await send(port, path, method: method, json: method == .post ? #"{"prompt": "x"}"# : nil, headers: headers)
                        #expect(answer.status == .unauthorized, "\(path)")
                    }
                }
                #expect(try await send(port, "/sdapi/v1/samplers", method: .get, headers: [.authorization: "Bearer s3cret"]).status == .ok)
                let generated = try await send(port, "/sdapi/v1/txt2img", json: #"{"prompt": "x", "steps": 1}"#, headers: [.authorization: "Bearer s3cret"])
                #expect(generated.status == .ok)
                // The page's static files carry no data and stay open, so a browser can load it and ask for the key.
                for path in ["/", "/app.js", "/app.css"] { #expect(try await send(port, path, method: .get).status == .ok, "\(path)") }
            }
        }

        @Test func aBurstPastTheQueueIsRefusedNotLost() async throws {
            try await app(queue: 1).test(.live) { client in
                let port = try #require(client.port)
                // Four clients at once, each on its own connection.
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for i in 0..<4 {
                        group.addTask {
                            let own = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(300)))
                            own.connect()
                            defer { Task { try? await own.shutdown() } }
                            let request = TestClient.Request("/sdapi/v1/txt2img", method: .post, authority: "127.0.0.1",
                                                             body: ByteBuffer(string: #"{"prompt": "folder", "steps": 40, "seed": \#(i)}"#))
                            return try await own.execute(request).head.status
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                // One runs, one waits, the rest are told to come back: every request is answered.
                #expect(statuses.count == 4)
                #expect(statuses.filter { $0 == .ok }.count == 2 && statuses.filter { $0 == .tooManyRequests }.count == 2, "\(statuses)")
            }
        }

        /// The OpenAI Images route: the same image as the A1111 route for the same settings, n
        /// images with consecutive seeds, and 422 for what it does not do.
        @Test func openAIGenerationsMatchTheA1111Route() async throws {
            try await app().test(.live) { client in
                let port = try #require(client.port)
                let a1111 = #"{"prompt": "heart emoji", "steps": 2, "seed": 9, "width": 64, "height": 64}"#
                let viaA1111 = (try await send(port, "/sdapi/v1/txt2img", json: a1111).json["images"] as? [String])?.first
                let openAI = #"{"prompt": "heart emoji", "steps": 2, "seed": 9, "size": "64x64", "n": 2, "model": "dall-e-3", "response_format": "b64_json"}"#
                do {
                    let response = try await send(port, "/v1/images/generations", json: openAI)
                    #expect(response.status == .ok)
                    let object: [String: Any]? = response.json
                    let data = try #require(object?["data"] as? [[String: Any]])
                    #expect(data.count == 2 && object?["created"] is Int)
                    #expect(data.first?["b64_json"] as? String == viaA1111, "the same PNG as txt2img with the same settings")
                    #expect(data.first?["b64_json"] as? String != data.last?["b64_json"] as? String)
                }
                for (json, detail) in [(#"{"prompt": "x", "response_format": "url"}"#, "b64_json"), (#"{"prompt": "x", "size": "big"}"#, "WIDTHxHEIGHT"),
                                       (#"{"prompt": "x", "n": 50}"#, "n must"), (#"{"n": 1}"#, "prompt"), (#"{"prompt": "x", "style": "vivid"}"#, "style"),
                                       (#"{"prompt": "x", "size": "100x100"}"#, "multiple of 8")] {
                    let response = try await send(port, "/v1/images/generations", json: json)
                    #expect(response.status == .unprocessableContent, "\(json)")
                    #expect(response.text.contains(detail), "\(json): \(response.text)")
                }
            }
        }
    }
}

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
            let request = #"{"prompt": "folder icon", "style": "papirus", "steps": 3, "seed": 5, "sampler_name": "Euler", "n_iter": 2}"#
            try await client.execute(uri: "/sdapi/v1/txt2img", method: .post, body: body(request)) { response in
                #expect(response.status == .ok)
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let images = try #require(object?["images"] as? [String])
                #expect(images.count == 2)
                #expect(Data(base64Encoded: images[0]) == cli, "the server's PNG is the CLI's, byte for byte")
                let info = try #require((object?["info"] as? String).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
                #expect(info["all_seeds"] as? [Int] == [5, 6] && info["sampler_name"] as? String == "euler")
                let second = try PNGCodec.decode(Array(try #require(Data(base64Encoded: images[1]))))
                #expect(second.texts.first { $0.keyword == "parameters" }?.text.contains("Seed: 6") == true)
            }
            try await client.execute(uri: "/sdapi/v1/samplers", method: .get) { response in
                let names = (try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == ["DDIM", "Euler", "DPM++ 2M", "PLMS", "DDPM"])
            }
            try await client.execute(uri: "/sdapi/v1/sd-models", method: .get) { response in
                let models = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [[String: Any]]
                #expect(models?.first?["sha256"] as? String == Self.runner.modelHash)
            }
        }
    }

    @Test func badRequestsAreAnsweredClearly() async throws {
        try await app().test(.live) { client in
            for (json, status, detail) in [
                ("{not json", HTTPResponse.Status.badRequest, "JSON object"),
                (#"{"prompt": "x", "enable_hr": true}"#, .unprocessableContent, "enable_hr"),
                (#"{"prompt": "x", "steps": "many"}"#, .unprocessableContent, "steps"),
                (#"{"prompt": "x", "sampler_name": "LMS Karras"}"#, .unprocessableContent, "LMS Karras"),
                (#"{"prompt": "x", "cfg_scale": 500}"#, .unprocessableContent, "guidance"),
                (#"{"prompt": "x", "width": 100}"#, .unprocessableContent, "multiple of 8"),
                (#"{"prompt": "x", "enable_hr": false, "restore_faces": false, "steps": 1}"#, .ok, ""),
            ] {
                try await client.execute(uri: "/sdapi/v1/txt2img", method: .post, body: body(json)) { response in
                    #expect(response.status == status, "\(json): \(response.status)")
                    #expect(detail.isEmpty || String(buffer: response.body).contains(detail), "\(json): \(String(buffer: response.body).prefix(200))")
                }
            }
            let huge = ByteBuffer(repeating: UInt8(ascii: " "), count: StyleDiffServer.maximumBody + 1)
            try await client.execute(uri: "/sdapi/v1/txt2img", method: .post, body: huge) { response in
                #expect(response.status == .contentTooLarge, "\(String(buffer: response.body))")
            }
        }
    }

    @Test func apiKeyIsRequiredOnEveryRoute() async throws {
        try await app(apiKey: "s3cret").test(.live) { client in
            for headers: HTTPFields in [[:], [.authorization: "Bearer wrong"]] {
                try await client.execute(uri: "/sdapi/v1/samplers", method: .get, headers: headers) { #expect($0.status == .unauthorized) }
                try await client.execute(uri: "/sdapi/v1/txt2img", method: .post, headers: headers, body: body(#"{"prompt": "x"}"#)) {
                    #expect($0.status == .unauthorized)
                }
            }
            try await client.execute(uri: "/sdapi/v1/samplers", method: .get, headers: [.authorization: "Bearer s3cret"]) {
                #expect($0.status == .ok)
            }
        }
    }

    @Test func aBurstPastTheQueueIsRefusedNotLost() async throws {
        try await app(queue: 1).test(.live) { client in
            let port = try #require(client.port)
            // Four clients at once, each on its own connection.
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for i in 0..<4 {
                    group.addTask {
                        let own = TestClient(host: "127.0.0.1", port: port)
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
            let a1111 = #"{"prompt": "heart emoji", "steps": 2, "seed": 9, "width": 64, "height": 64}"#
            let viaA1111 = try await client.execute(uri: "/sdapi/v1/txt2img", method: .post, body: body(a1111)) { response in
                ((try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])?["images"] as? [String])?.first
            }
            let openAI = #"{"prompt": "heart emoji", "steps": 2, "seed": 9, "size": "64x64", "n": 2, "model": "dall-e-3", "response_format": "b64_json"}"#
            try await client.execute(uri: "/v1/images/generations", method: .post, body: body(openAI)) { response in
                #expect(response.status == .ok)
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let data = try #require(object?["data"] as? [[String: Any]])
                #expect(data.count == 2 && object?["created"] is Int)
                #expect(data.first?["b64_json"] as? String == viaA1111, "the same PNG as txt2img with the same settings")
                #expect(data.first?["b64_json"] as? String != data.last?["b64_json"] as? String)
            }
            for (json, detail) in [(#"{"prompt": "x", "response_format": "url"}"#, "b64_json"), (#"{"prompt": "x", "size": "big"}"#, "WIDTHxHEIGHT"),
                                   (#"{"prompt": "x", "n": 50}"#, "n must"), (#"{"n": 1}"#, "prompt"), (#"{"prompt": "x", "style": "vivid"}"#, "style"),
                                   (#"{"prompt": "x", "size": "100x100"}"#, "multiple of 8")] {
                try await client.execute(uri: "/v1/images/generations", method: .post, body: body(json)) { response in
                    #expect(response.status == .unprocessableContent, "\(json)")
                    #expect(String(buffer: response.body).contains(detail), "\(json): \(String(buffer: response.body))")
                }
            }
        }
    }
}

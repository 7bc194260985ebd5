// The OpenAPI document is kept true (every documented operation answers with a documented
// status; the request schemas list exactly the fields the parsers implement), and the page at /
// works in a real browser: headless Chromium (Debian's chromium-headless-shell, installed by
// tools/setup-system.sh) opens it, generates with the fixture model, and the image it shows is
// the CLI's PNG with its parameters beside it.

import Foundation
import Hummingbird
import HummingbirdTesting
import PNGIO
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

extension ServerTests {
    @Suite(.serialized) struct PageAndDocumentTests {
        static let runner = try! Runner(modelDirectory: TestPaths.fixtureModel)

        @Test func theOpenAPIDocumentMatchesTheRoutes() async throws {
            try await serverApp(Self.runner).test(.live) { client in
                let port = try #require(client.port)
                let document = try await send(port, "/openapi.json", method: .get).json
                #expect(document["openapi"] as? String == "3.0.3")
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                var operations = 0
                for (path, methods) in paths.sorted(by: { $0.key < $1.key }) {
                    for (method, operation) in methods {
                        let documented = Set(((operation as? [String: Any])?["responses"] as? [String: Any])?.keys.compactMap { Int($0) } ?? [])
                        let answer = try await send(port, path, method: method == "get" ? .get : .post, json: method == "post" ? "{}" : nil)
                        #expect(documented.contains(Int(answer.status.code)), "\(method) \(path): \(answer.status) is not among \(documented.sorted())")
                        operations += 1
                    }
                }
                #expect(operations == 13)
                #expect(try await send(port, "/sdapi/v1/upscale", json: "{}").status == .notFound)

                // The request schemas name exactly what the parsers implement.
                let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
                /// A schema's properties, its allOf parts' included.
                func properties(_ name: String) -> Set<String> {
                    func collect(_ schema: [String: Any]) -> Set<String> {
                        var keys = Set((schema["properties"] as? [String: Any])?.keys ?? [:].keys)
                        for part in schema["allOf"] as? [[String: Any]] ?? [] {
                            if let ref = part["$ref"] as? String {
                                keys.formUnion(properties(String(ref.split(separator: "/").last ?? "")))
                            } else {
                                keys.formUnion(collect(part))
                            }
                        }
                        return keys
                    }
                    return collect(schemas[name] ?? [:])
                }
                #expect(properties("Txt2ImgRequest") == A1111Request.implemented)
                #expect(properties("Img2ImgRequest") == A1111Request.implemented.union(A1111Request.img2imgImplemented))
                #expect(properties("OpenAIGenerationRequest") == OpenAIImageRequest.generationFields)
                #expect(properties("OpenAIEditRequest") == OpenAIImageRequest.editFields.subtracting(["image[]"]))
            }
        }

        /// Debian's headless Chromium.
        static let chromium = "/usr/bin/chromium-headless-shell"

        /// Runs Chromium to its end (at most 120 s) off the test's executor: the page's requests
        /// need the cooperative threads this would otherwise block.
        func runChromium(_ arguments: [String]) async throws -> String {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Self.chromium)
            process.arguments = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"] + arguments
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            return await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    let timer = DispatchWorkItem { process.terminate() }
                    DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: timer)
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    timer.cancel()
                    continuation.resume(returning: String(decoding: data, as: UTF8.self))
                }
            }
        }

        @Test func thePageGeneratesInARealBrowser() async throws {
            try #require(FileManager.default.isExecutableFile(atPath: Self.chromium),
                         "\(Self.chromium) is missing: tools/setup-system.sh installs chromium-headless-shell")
            let dir = try makeTemporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await serverApp(Self.runner).test(.live) { client in
                let port = try #require(client.port)
                let options = try await send(port, "/sdapi/v1/options", method: .get).json
                let guidance = try #require(options["stylediff_guidance"] as? Double)
                let styleStrength = try #require(options["stylediff_style_strength"] as? Double)
                let url = "http://127.0.0.1:\(port)/?prompt=folder%20icon&style=papirus&steps=3&seed=5&run=1"
                let dom = try await runChromium(["--virtual-time-budget=30000", "--dump-dom", url])
                #expect(dom.contains("data-ready=\"1\""), "the page did not start: \(dom.prefix(500))")

                // The gallery's image is the CLI's PNG for the settings the page sent.
                let marker = "class=\"result-image\" src=\"data:image/png;base64,"
                let start = try #require(dom.range(of: marker), "no result in the gallery: \(dom.suffix(1500))")
                let base64 = dom[start.upperBound...].prefix { $0 != "\"" }
                let shown = try #require(Data(base64Encoded: String(base64)))
                let out = dir + "/cli.png"
                try Generate.parse(["folder icon", "--style", "papirus", "--steps", "3", "--seed", "5", "--guidance", "\(guidance)",
                                    "--style-strength", "\(styleStrength)", "--model", TestPaths.fixtureModel, "-o", out]).run()
                #expect(shown == (try Data(contentsOf: URL(fileURLWithPath: out))), "the page's image is the CLI's, byte for byte")
                #expect(dom.contains("Seed: 5") && dom.contains("Style: papirus"), "the parameters are shown beside the image")
                #expect(dom.contains("download=\"stylediff-5.png\""))

                // It renders: a screenshot of the page is a PNG of the window's size.
                let shot = dir + "/page.png"
                _ = try await runChromium(["--virtual-time-budget=30000", "--window-size=1100,760", "--screenshot=\(shot)", url])
                let image = try PNGCodec.read(path: shot).image
                #expect(image.width == 1100 && image.height == 760)
            }
        }
    }
}

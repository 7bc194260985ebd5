// Images over HTTP with the tiny fixture model: A1111 img2img and style images, the OpenAI
// edits route (multipart), each the same PNG bytes as the CLI given the stored upload, and clear
// 400/422 answers for bad base64, non-PNG data, inpainting fields and malformed multipart.

import Foundation
import Hummingbird
import HummingbirdTesting
import PNGIO
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

extension ServerTests {
    @Suite(.serialized) struct ImageRoutesTests {
        static let runner = try! Runner(modelDirectory: TestPaths.fixtureModel)
        let initImage = TestPaths.pipelineFixtures + "/init.png"
        let styleA = TestPaths.pipelineFixtures + "/style_a.png", styleB = TestPaths.pipelineFixtures + "/style_b.png"

        /// The CLI's PNG for `arguments` (written under `dir`).
        func cli(_ command: String, _ arguments: [String], in dir: String) throws -> Data {
            let out = dir + "/cli-\(UUID().uuidString).png"
            let all = arguments + ["--model", TestPaths.fixtureModel, "-o", out]
            if command == "convert" { try Convert.parse(all).run() } else { try Generate.parse(all).run() }
            return try Data(contentsOf: URL(fileURLWithPath: out))
        }

        @Test func img2imgAndStyleImagesGiveTheCLIBytes() async throws {
            let dir = try makeTemporaryFolder(), uploads = dir + "/uploads"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let stored: @Sendable (String) throws -> String = { uploads + "/" + (try SHA256Digest.hex(file: $0)) + ".png" }
            try await serverApp(Self.runner, { $0.uploads = uploads }).test(.live) { client in
                let port = try #require(client.port)
                // img2img: crop and resize (resize_mode 1), strength 0.6, a style image with weight.
                let body = """
                    {"prompt": "folder icon", "init_images": ["data:image/png;base64,\(try base64File(initImage))"], "denoising_strength": 0.6,
                     "resize_mode": 1, "steps": 4, "seed": 21, "sampler_name": "DDIM", "cfg_scale": 4,
                     "style_images": [{"image": "\(try base64File(styleA))", "weight": 0.5}], "style_strength": 0.8}
                    """
                let answer = try await send(port, "/sdapi/v1/img2img", json: body)
                #expect(answer.status == .ok, "\(answer.text.prefix(300))")
                let png = try #require((answer.json["images"] as? [String])?.first.flatMap { Data(base64Encoded: $0) })
                // The uploads are kept by hash, and the CLI given those files makes the same bytes.
                let storedInit = try stored(initImage), storedStyle = try stored(styleA)
                #expect(FileManager.default.fileExists(atPath: storedInit) && FileManager.default.fileExists(atPath: storedStyle))
                let expected = try cli("convert", [try stored(initImage), "--prompt", "folder icon", "--strength", "0.6", "--fit", "crop",
                                                   "--steps", "4", "--seed", "21", "--scheduler", "ddim", "--guidance", "4",
                                                   "--style-image", try stored(styleA) + ":0.5", "--style-strength", "0.8"], in: dir)
                #expect(png == expected, "img2img over HTTP is the CLI's convert, byte for byte")
                let info = try #require((answer.json["info"] as? String).flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
                #expect(info["denoising_strength"] as? Double == 0.6)

                // txt2img with two style images (linear blend) and a style name through A1111's styles list.
                let styled = """
                    {"prompt": "heart", "styles": ["tango"], "steps": 3, "seed": 4,
                     "style_images": [{"image": "\(try base64File(styleA))"}, {"image": "\(try base64File(styleB))", "weight": 2}]}
                    """
                let styledAnswer = try await send(port, "/sdapi/v1/txt2img", json: styled)
                #expect(styledAnswer.status == .ok, "\(styledAnswer.text.prefix(300))")
                let expectedStyled = try cli("generate", ["heart", "--style", "tango", "--steps", "3", "--seed", "4",
                                                          "--style-image", try stored(styleA), "--style-image", try stored(styleB) + ":2.0"], in: dir)
                #expect((styledAnswer.json["images"] as? [String])?.first.flatMap { Data(base64Encoded: $0) } == expectedStyled)
            }
        }

        @Test func openAIEditsAreImg2Img() async throws {
            let dir = try makeTemporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await serverApp(Self.runner, { $0.uploads = dir }).test(.live) { client in
                let port = try #require(client.port)
                let image = try Data(contentsOf: URL(fileURLWithPath: initImage))
                let a1111 = """
                    {"prompt": "tango folder", "init_images": ["\(image.base64EncodedString())"], "denoising_strength": 0.5, "steps": 4, "seed": 3}
                    """
                let viaA1111 = (try await send(port, "/sdapi/v1/img2img", json: a1111).json["images"] as? [String])?.first
                #expect(viaA1111 != nil)
                let (body, headers) = multipartBody(fields: [("prompt", "tango folder"), ("strength", "0.5"), ("steps", "4"), ("seed", "3"),
                                                             ("n", "2"), ("model", "gpt-image-1"), ("size", "64x64")],
                                                    files: [("image[]", "init.png", image)])
                let answer = try await send(port, "/v1/images/edits", body: body, headers: headers)
                #expect(answer.status == .ok, "\(answer.text.prefix(300))")
                let data = try #require(answer.json["data"] as? [[String: Any]])
                #expect(data.count == 2)
                #expect(data.first?["b64_json"] as? String == viaA1111, "the edit is the A1111 img2img of the same settings")
                #expect(data.first?["b64_json"] as? String != data.last?["b64_json"] as? String)

                // Bad edits.
                for (fields, files, detail) in [
                    ([("prompt", "x")], [("image", "a.png", image), ("mask", "m.png", image)], "mask"),
                    ([("prompt", "x")], [(String, String, Data)](), "exactly one"),
                    ([("prompt", "x")], [("image", "a.jpg", Data("JFIF not a png".utf8))], "not a readable PNG"),
                    ([("prompt", "x"), ("strength", "lots")], [("image", "a.png", image)], "'strength' must be a number"),
                    ([("prompt", "x"), ("background", "transparent")], [("image", "a.png", image)], "background"),
                ] {
                    let (b, h) = multipartBody(fields: fields, files: files)
                    let bad = try await send(port, "/v1/images/edits", body: b, headers: h)
                    #expect(bad.status == .unprocessableContent && bad.text.contains(detail), "\(detail): \(bad.status) \(bad.text)")
                }
                let notMultipart = try await send(port, "/v1/images/edits", json: #"{"prompt": "x"}"#, headers: [.contentType: "application/json"])
                #expect(notMultipart.status == .badRequest && notMultipart.text.contains("multipart/form-data"), "\(notMultipart.text)")
                let broken = try await send(port, "/v1/images/edits", body: ByteBuffer(string: "--b\r\nno headers end"),
                                            headers: [.contentType: "multipart/form-data; boundary=b"])
                #expect(broken.status == .badRequest, "\(broken.text)")
            }
        }

        @Test func badImagesAndInpaintingFieldsAre422() async throws {
            let dir = try makeTemporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await serverApp(Self.runner, { $0.uploads = dir }).test(.live) { client in
                let port = try #require(client.port)
                let png = try base64File(initImage)
                let jpeg = Data([0xFF, 0xD8, 0xFF, 0xE0] + [UInt8](repeating: 7, count: 64)).base64EncodedString()
                for (json, detail) in [
                    (#"{"prompt": "x", "init_images": ["%%% not base64"]}"#, "not valid base64"),
                    (#"{"prompt": "x", "init_images": ["data:image/png,abc"]}"#, "without ';base64,'"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(jpeg)\"]}", "not a readable PNG"),
                    (#"{"prompt": "x", "init_images": []}"#, "init_images"),
                    (#"{"prompt": "x"}"#, "init_images"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"mask\": \"\(png)\"}", "mask"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"resize_mode\": 2}", "resize_mode 2"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"denoising_strength\": 3}", "strength"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"style_images\": [{\"image\": \"\(png)\", \"weight\": -1}]}", "weight"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"style_images\": [{\"picture\": \"\(png)\"}]}", "style_images[0]"),
                    ("{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"styles\": [\"a\", \"b\"]}", "at most one"),
                ] {
                    let answer = try await send(port, "/sdapi/v1/img2img", json: json)
                    #expect(answer.status == .unprocessableContent && answer.text.contains(detail), "\(detail): \(answer.status) \(answer.text.prefix(200))")
                }
                // img2img's fields are not txt2img's.
                let misplaced = try await send(port, "/sdapi/v1/txt2img", json: "{\"prompt\": \"x\", \"init_images\": [\"\(png)\"]}")
                #expect(misplaced.status == .unprocessableContent && misplaced.text.contains("init_images"))
                // Neutral inpainting defaults as webuiapi sends them are accepted.
                let neutral = "{\"prompt\": \"x\", \"init_images\": [\"\(png)\"], \"mask\": null, \"mask_blur\": 4, \"inpainting_fill\": 0, \"steps\": 4, \"include_init_images\": false}"
                let accepted = try await send(port, "/sdapi/v1/img2img", json: neutral)
                #expect(accepted.status == .ok, "\(accepted.text)")
            }
        }
    }
}

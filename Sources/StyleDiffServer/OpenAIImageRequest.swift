// The OpenAI Images API's generations request (POST /v1/images/generations) as stylediff takes
// it: prompt, n (1-10), size ("WxH", or "auto" for the model's size), response_format b64_json
// (URLs need storage stylediff does not keep), model (any name: the loaded model answers) and
// user; quality "auto"/"standard" only. Extensions: seed, negative_prompt, steps, guidance.
// Anything else is 422.

import Foundation
import StyleDiffCommands

struct OpenAIImageRequest {
    var settings: GenerationSettings
    var count: Int

    init(json body: [UInt8]) throws {
        let fields = try JSONFields(body)
        let object = fields.object
        let known: Set<String> = ["prompt", "n", "size", "response_format", "model", "user", "quality", "seed", "negative_prompt",
                                  "steps", "guidance"]
        for key in object.keys.sorted() where !known.contains(key) {
            throw APIError(status: 422, "field '\(key)' is not supported by stylediff")
        }
        let string = fields.string, integer = fields.integer
        guard let prompt = try string("prompt"), !prompt.isEmpty else { throw APIError(status: 422, "field 'prompt' is required") }
        if let format = try string("response_format"), format != "b64_json" {
            throw APIError(status: 422, "response_format '\(format)' is not supported: stylediff answers b64_json only")
        }
        if let quality = try string("quality"), !["auto", "standard"].contains(quality) {
            throw APIError(status: 422, "quality '\(quality)' is not supported (auto or standard)")
        }
        _ = try string("model")
        _ = try string("user")
        count = try integer("n") ?? 1
        guard (1...10).contains(count) else { throw APIError(status: 422, "n must be between 1 and 10") }
        var s = GenerationSettings(prompt: prompt)
        if let size = try string("size"), size != "auto" {
            let parts = size.split(separator: "x")
            guard parts.count == 2, let w = Int(parts[0]), let h = Int(parts[1]) else {
                throw APIError(status: 422, "size must be WIDTHxHEIGHT (e.g. 512x512) or auto, got '\(size)'")
            }
            (s.width, s.height) = (w, h)
        }
        if let seed = try integer("seed") {
            guard seed >= 0 else { throw APIError(status: 422, "seed must be >= 0") }
            s.seed = UInt64(seed)
        }
        s.negativePrompt = try string("negative_prompt")
        s.steps = try integer("steps")
        s.guidanceScale = try fields.number("guidance").map(Float.init)
        if let problem = s.problems().first { throw APIError(status: 422, problem) }
        settings = s
    }
}

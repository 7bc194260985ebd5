// The OpenAI Images API's requests as stylediff takes them. Generations (POST
// /v1/images/generations, JSON): prompt, n (1-10), size ("WxH", or "auto" for the model's size),
// response_format b64_json (URLs need storage stylediff does not keep), model (any name: the
// loaded model answers) and user; quality "auto"/"standard" only. Edits (POST /v1/images/edits,
// multipart/form-data): the same fields plus one `image` file (PNG; `image[]` as the SDKs send
// it), as img2img; a `mask` (inpainting) is 422. Extensions: seed, negative_prompt, steps,
// guidance, and for edits strength (img2img denoising strength). Anything else is 422.

import Foundation
import StyleDiffCommands

struct OpenAIImageRequest: ImageRequest {
    var settings: GenerationSettings
    var count: Int

    static let generationFields: Set<String> = [
        "prompt", "n", "size", "response_format", "model", "user", "quality", "seed", "negative_prompt", "steps", "guidance",
    ]
    static let editFields = generationFields.union(["image", "image[]", "strength"])

    /// A generations request (JSON body).
    init(json body: [UInt8]) throws {
        let fields = try JSONFields(body)
        for key in fields.object.keys.sorted() where !Self.generationFields.contains(key) {
            throw APIError(status: 422, "field '\(key)' is not supported by stylediff")
        }
        try self.init(string: fields.string, integer: fields.integer, number: fields.number)
    }

    /// An edits request (multipart form); the image is stored in `uploads`.
    init(form: MultipartForm, uploads: UploadStore) throws {
        var texts: [String: String] = [:]
        var images: [MultipartForm.Part] = []
        for part in form.parts {
            guard Self.editFields.contains(part.name) else {
                throw APIError(status: 422, "field '\(part.name)' is not supported by stylediff" + (part.name == "mask" ? " (no inpainting)" : ""))
            }
            if part.name == "image" || part.name == "image[]" {
                images.append(part)
            } else {
                guard texts[part.name] == nil else { throw APIError(status: 422, "field '\(part.name)' is given twice") }
                texts[part.name] = part.text
            }
        }
        guard images.count == 1 else { throw APIError(status: 422, "field 'image' must be exactly one PNG file, got \(images.count)") }
        let string: (String) throws -> String? = { texts[$0] }
        let number: (String) throws -> Double? = { key in
            try texts[key].map { text in
                guard let n = Double(text.trimmingCharacters(in: .whitespaces)), n.isFinite else {
                    throw APIError(status: 422, "field '\(key)' must be a number")
                }
                return n
            }
        }
        let integer: (String) throws -> Int? = { key in
            try number(key).map { n in
                guard let i = Int(exactly: n) else { throw APIError(status: 422, "field '\(key)' must be a whole number") }
                return i
            }
        }
        try self.init(string: string, integer: integer, number: number,
                      initImage: try uploads.store(images[0].bytes, field: "image"), strength: try number("strength"))
    }

    private init(string: (String) throws -> String?, integer: (String) throws -> Int?, number: (String) throws -> Double?,
                 initImage: String? = nil, strength: Double? = nil) throws {
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
        s.guidanceScale = try number("guidance").map(Float.init)
        s.initImage = initImage
        s.strength = strength
        if let problem = s.problems().first { throw APIError(status: 422, problem) }
        settings = s
    }
}

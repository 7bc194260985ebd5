// The AUTOMATIC1111 web API's txt2img request (modules/api/models.py
// StableDiffusionTxt2ImgProcessingAPI) as stylediff takes it: the fields it implements map onto
// GenerationSettings; fields it does not implement are accepted only at A1111's neutral
// defaults (what clients such as webuiapi send unasked) and otherwise answered with 422, never
// ignored. Extensions: style, style_strength, blend (style images come with a later slice).

import FileAccess
import Foundation
import Pipeline
import Schedulers
import StyleDiffCommands

struct A1111Request {
    var settings: GenerationSettings
    /// A1111's batch_size x n_iter images, seeds seed, seed+1, ...
    var count: Int

    /// A1111's sampler name for each scheduler stylediff has (GET /sdapi/v1/samplers lists them).
    static let samplerNames: [(name: String, kind: SchedulerKind)] = [
        ("DDIM", .ddim), ("Euler", .euler), ("DPM++ 2M", .dpmpp), ("PLMS", .pndm), ("DDPM", .ddpm),
    ]

    /// sampler_name -> scheduler: A1111's names and stylediff's own.
    static let samplers: [String: SchedulerKind] = Dictionary(
        uniqueKeysWithValues: samplerNames.map { ($0.name, $0.kind) } + SchedulerKind.allCases.map { ($0.rawValue, $0) })

    /// Fields accepted at these values only (A1111 defaults a client may send).
    nonisolated(unsafe) static let neutral: [String: Any] = [
        "restore_faces": false, "tiling": false, "enable_hr": false, "do_not_save_samples": false, "do_not_save_grid": false,
        "subseed": -1, "subseed_strength": 0, "seed_resize_from_h": -1, "seed_resize_from_w": -1, "s_churn": 0, "s_noise": 1,
        "s_tmin": 0, "s_tmax": 0, "override_settings": [String: Any](), "override_settings_restore_afterwards": true,
        "send_images": true, "save_images": false, "alwayson_scripts": [String: Any](), "script_args": [Any](), "styles": [Any](),
        "scheduler": "Automatic", "denoising_strength": 0, "refiner_checkpoint": NSNull(), "sampler_index": "Euler",
    ]

    static let implemented: Set<String> = [
        "prompt", "negative_prompt", "seed", "steps", "cfg_scale", "sampler_name", "width", "height", "batch_size", "n_iter", "eta",
        "style", "style_strength", "blend", "clip_skip",
    ]

    /// Parses a JSON body; `problem` names the field at fault.
    init(json body: [UInt8]) throws {
        let fields = try JSONFields(body)
        let object = fields.object
        for key in object.keys.sorted() where !Self.implemented.contains(key) {
            guard let neutral = Self.neutral[key], Self.same(object[key] ?? NSNull(), neutral) else {
                throw APIError(status: 422, "field '\(key)' is not supported by stylediff" + (Self.neutral[key] != nil ? " (only its default)" : ""))
            }
        }
        let string = fields.string, number = fields.number, integer = fields.integer
        var s = GenerationSettings()
        s.prompt = try string("prompt") ?? ""
        s.negativePrompt = try string("negative_prompt")
        if let seed = try number("seed"), seed != -1 {
            guard let v = UInt64(exactly: seed) else { throw APIError(status: 422, "field 'seed' must be -1 or a whole number >= 0") }
            s.seed = v
        }
        s.steps = try integer("steps")
        s.guidanceScale = try number("cfg_scale").map(Float.init)
        if let name = try string("sampler_name") {
            guard let kind = Self.samplers[name] else {
                throw APIError(status: 422, "sampler_name '\(name)' is not supported (see GET /sdapi/v1/samplers)")
            }
            s.scheduler = kind
        }
        s.width = try integer("width")
        s.height = try integer("height")
        s.eta = try number("eta").map(Float.init)
        s.clipSkip = try integer("clip_skip")
        s.style = try string("style")
        s.styleStrength = try number("style_strength").map(Float.init)
        if let blend = try string("blend") {
            guard let b = StyleBlend(rawValue: blend) else { throw APIError(status: 422, "blend must be linear or slerp") }
            s.blend = b
        }
        let batch = try integer("batch_size") ?? 1, iterations = try integer("n_iter") ?? 1
        guard (1...16).contains(batch), (1...16).contains(iterations) else {
            throw APIError(status: 422, "batch_size and n_iter must be between 1 and 16")
        }
        count = batch * iterations
        settings = s
        if let problem = s.problems().first { throw APIError(status: 422, problem) }
    }

    static func same(_ a: Any, _ b: Any) -> Bool {
        if b is NSNull { return a is NSNull }
        if let x = b as? Bool { return JSONConfigFile.boolean(a) == x }
        if let x = b as? String { return (a as? String) == x }
        if let x = b as? Int { return JSONConfigFile.number(a) == Double(x) }
        if b is [String: Any] { return (a as? [String: Any])?.isEmpty == true }
        if b is [Any] { return (a as? [Any])?.isEmpty == true }
        return false
    }
}

/// An error answered with `status` and {"error": ..., "detail": message}.
struct APIError: Error {
    var status: Int
    var message: String
    init(status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

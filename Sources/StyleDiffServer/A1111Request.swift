// The AUTOMATIC1111 web API's txt2img and img2img requests (modules/api/models.py
// StableDiffusionTxt2ImgProcessingAPI / ...Img2ImgProcessingAPI) as stylediff takes them: the
// fields it implements map onto GenerationSettings; fields it does not implement are accepted
// only at A1111's neutral defaults (what clients such as webuiapi send unasked) and otherwise
// answered with 422, never ignored. img2img takes one init image (base64 PNG), resize_mode 0
// (stretch) or 1 (crop and resize). Extensions: style, style_images [{image, weight}],
// style_strength, blend, style_snap.

import FileAccess
import Foundation
import Pipeline
import Schedulers
import StyleDiffCommands

/// A parsed generation request of either API family: settings and how many images.
protocol ImageRequest {
    var settings: GenerationSettings { get }
    var count: Int { get }
}

struct A1111Request: ImageRequest {
    var settings: GenerationSettings
    /// A1111's batch_size x n_iter images, seeds seed, seed+1, ...
    var count: Int

    /// A1111's sampler name for each scheduler stylediff has (GET /sdapi/v1/samplers lists them).
    static let samplerNames: [(name: String, kind: SchedulerKind)] = [
        ("DDIM", .ddim), ("Euler", .euler), ("DPM++ 2M", .dpmpp), ("PLMS", .pndm), ("DDPM", .ddpm), ("LCM", .lcm), ("TCD", .tcd),
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

    /// Fields of img2img accepted at these values only (inpainting and InstructPix2Pix).
    nonisolated(unsafe) static let img2imgNeutral: [String: Any] = [
        "mask": NSNull(), "mask_blur": 4, "mask_blur_x": 4, "mask_blur_y": 4, "inpainting_fill": 0, "inpaint_full_res": true,
        "inpaint_full_res_padding": 0, "inpainting_mask_invert": 0, "initial_noise_multiplier": 1, "image_cfg_scale": NSNull(),
        "include_init_images": false, "latent_mask": NSNull(),
    ]

    static let implemented: Set<String> = [
        "prompt", "negative_prompt", "seed", "steps", "cfg_scale", "sampler_name", "width", "height", "batch_size", "n_iter", "eta",
        "styles", "style", "style_images", "style_strength", "style_snap", "blend", "clip_skip",
    ]
    static let img2imgImplemented: Set<String> = ["init_images", "denoising_strength", "resize_mode"]

    /// Parses a JSON body (img2img when `img2img`), storing its images in `uploads`; errors name
    /// the field at fault.
    init(json body: [UInt8], img2img: Bool = false, uploads: UploadStore? = nil) throws {
        let fields = try JSONFields(body)
        let object = fields.object
        var neutral = Self.neutral
        if img2img { neutral.merge(Self.img2imgNeutral) { $1 }; neutral["denoising_strength"] = nil }
        for key in object.keys.sorted() where !Self.implemented.contains(key) && !(img2img && Self.img2imgImplemented.contains(key)) {
            guard let neutral = neutral[key], Self.same(object[key] ?? NSNull(), neutral) else {
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
        if let styles = object["styles"], !(styles is NSNull) {
            guard let names = styles as? [String], names.count <= 1 else {
                throw APIError(status: 422, "field 'styles' must be a list of at most one style name (see GET /sdapi/v1/prompt-styles)")
            }
            if let name = names.first {
                guard s.style == nil || s.style == name else { throw APIError(status: 422, "fields 'styles' and 'style' disagree") }
                s.style = name
            }
        }
        s.styleStrength = try number("style_strength").map(Float.init)
        s.styleSnap = try number("style_snap").map(Float.init)
        if let references = object["style_images"], !(references is NSNull) {
            guard let list = references as? [Any], list.count <= 8 else {
                throw APIError(status: 422, "field 'style_images' must be a list of at most 8 {\"image\": base64 PNG, \"weight\": number}")
            }
            s.styleImages = try list.enumerated().map { i, item in
                let field = "style_images[\(i)]"
                guard let entry = item as? [String: Any], let image = entry["image"] as? String,
                      Set(entry.keys).isSubset(of: ["image", "weight"]) else {
                    throw APIError(status: 422, "\(field) must be {\"image\": base64 PNG, \"weight\": number}")
                }
                let weight = try entry["weight"].map { w -> Double in
                    guard let n = JSONConfigFile.number(w), n.isFinite, n >= 0 else { throw APIError(status: 422, "\(field).weight must be a number >= 0") }
                    return n
                }
                let path = try Self.store(image, field: field + ".image", uploads)
                return weight.map { "\(path):\($0)" } ?? path
            }
        }
        if img2img {
            guard let images = object["init_images"] as? [Any], images.count == 1, let image = images[0] as? String else {
                throw APIError(status: 422, "field 'init_images' must be a list of one base64 PNG image")
            }
            s.initImage = try Self.store(image, field: "init_images[0]", uploads)
            s.strength = try number("denoising_strength")
            switch try integer("resize_mode") {
            case nil: break
            case 0: s.fit = .stretch
            case 1: s.fit = .crop
            case let mode?: throw APIError(status: 422, "resize_mode \(mode) is not supported (0 just resize, 1 crop and resize)")
            }
        }
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

    /// Decodes and stores a base64 PNG field; its path.
    static func store(_ base64: String, field: String, _ uploads: UploadStore?) throws -> String {
        guard let uploads else { throw APIError(status: 422, "\(field): this route takes no images") }
        return try uploads.store(UploadStore.decodeBase64(base64, field: field), field: field)
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

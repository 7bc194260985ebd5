// What one generation asks for, as a user gives it: one value built from command-line options
// (GenerationOptions.settings), a batch line (its JSON is this type's encoding) and, later, a
// server request. Fields left nil take the defaults below or the model's sampling_defaults.json.
//
// Every generation goes settings -> GenerationRecord (Runner.record: defaults filled in, input
// files hashed) -> GenerationRequest (Runner.prepare: checked in full) -> image. The record is
// what the PNG stores, so `replay` enters at the second step and takes the identical path.

import Pipeline
import Schedulers

public struct GenerationSettings: Codable, Equatable, Sendable {
    public var prompt: String?
    /// A style the model knows; added to the prompt as ", NAME style".
    public var style: String?
    public var seed: UInt64?
    public var negativePrompt: String?
    public var steps: Int?
    public var scheduler: SchedulerKind?
    public var guidanceScale: Float?
    /// DDIM only.
    public var eta: Float?
    /// Style reference images, "PATH" or "PATH:WEIGHT".
    public var styleImages: [String]?
    public var styleStrength: Float?
    /// Snap each style image to the model's presets at this temperature (0 or nil: off).
    public var styleSnap: Float?
    public var blend: StyleBlend?
    /// false turns off the model's style preset for a style the prompt names.
    public var stylePreset: Bool?
    /// img2img: the image to convert and how much of the schedule to run.
    public var initImage: String?
    public var strength: Double?
    /// img2img: how the init image is brought to the output size.
    public var fit: ImageFit?
    /// The output size (nil: the model's).
    public var width: Int?
    public var height: Int?
    /// AUTOMATIC1111's clip skip (1: the text encoder's last layer).
    public var clipSkip: Int?
    /// Per-block style scales, diffusers' set_ip_adapter_scale dictionary as JSON text.
    public var styleBlocks: String?
    /// The decoder: the VAE's (nil, "full") or the model folder's vae_tiny/ ("tiny").
    public var decoder: VAEDecoder?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case prompt, style, seed, steps, scheduler, eta, blend, strength, fit, width, height
        case negativePrompt = "negative", guidanceScale = "guidance", styleImages = "style_images"
        case styleStrength = "style_strength", styleSnap = "style_snap", stylePreset = "style_preset", initImage = "init_image"
        case clipSkip = "clip_skip", styleBlocks = "style_blocks", decoder
    }

    /// The JSON field names (batch lines).
    public static let fieldNames = Set(CodingKeys.allCases.map(\.rawValue))

    public init(
        prompt: String? = nil, style: String? = nil, seed: UInt64? = nil, negativePrompt: String? = nil, steps: Int? = nil,
        scheduler: SchedulerKind? = nil, guidanceScale: Float? = nil, eta: Float? = nil, styleImages: [String]? = nil,
        styleStrength: Float? = nil, styleSnap: Float? = nil, blend: StyleBlend? = nil, stylePreset: Bool? = nil,
        initImage: String? = nil, strength: Double? = nil, fit: ImageFit? = nil, width: Int? = nil, height: Int? = nil,
        clipSkip: Int? = nil, styleBlocks: String? = nil, decoder: VAEDecoder? = nil
    ) {
        (self.prompt, self.style, self.seed, self.negativePrompt, self.steps) = (prompt, style, seed, negativePrompt, steps)
        (self.scheduler, self.guidanceScale, self.eta, self.styleImages) = (scheduler, guidanceScale, eta, styleImages)
        (self.styleStrength, self.styleSnap, self.blend, self.stylePreset) = (styleStrength, styleSnap, blend, stylePreset)
        (self.initImage, self.strength, self.fit) = (initImage, strength, fit)
        (self.width, self.height, self.clipSkip, self.styleBlocks) = (width, height, clipSkip, styleBlocks)
        self.decoder = decoder
    }

    /// The defaults of every field a model does not set (guidance and style strength come from
    /// its SamplingDefaults): the library's one set.
    public typealias Defaults = GenerationDefaults

    /// The style images as specs; nil for a malformed one.
    public var styleImageSpecs: [StyleImageSpec]? {
        let specs = (styleImages ?? []).compactMap(StyleImageSpec.init(argument:))
        return specs.count == (styleImages ?? []).count ? specs : nil
    }

    /// What is wrong with these settings without a model: GenerationLimits' ranges and what
    /// needs what. One message per problem; empty when valid.
    public func problems() -> [String] {
        var found: [String] = []
        if prompt == nil && style == nil && (styleImages ?? []).isEmpty { found.append("needs a prompt, a style or style images") }
        if initImage == nil && strength != nil { found.append("strength applies to an init image only") }
        if initImage == nil && fit != nil { found.append("fit applies to an init image only") }
        for (name, value) in [("width", width), ("height", height)] {
            if let value, !(1...StyleDiffusionPipeline.maximumImageSide).contains(value) {
                found.append("\(name) must be between 1 and \(StyleDiffusionPipeline.maximumImageSide) (and a multiple of the model's size step), got \(value)")
            }
        }
        if let styleBlocks {
            if (styleImages ?? []).isEmpty { found.append("style blocks apply to style images; none given") }
            do { _ = try StyleBlockScales(json: styleBlocks) } catch { found.append("\(error)") }
        }
        if let clipSkip, !GenerationLimits.clipSkip.contains(clipSkip) {
            found.append("clip skip must be between \(GenerationLimits.clipSkip.lowerBound) and \(GenerationLimits.clipSkip.upperBound), got \(clipSkip)")
        }
        guard let specs = styleImageSpecs else {
            return found + ["style images must be PATH or PATH:WEIGHT with a weight >= 0"]
        }
        found += GenerationLimits.problems(
            steps: steps ?? Defaults.steps, guidanceScale: guidanceScale, styleStrength: styleStrength, styleSnap: styleSnap, eta: eta,
            scheduler: scheduler ?? Defaults.scheduler, strength: initImage == nil ? nil : (strength ?? Defaults.strength),
            styleWeights: specs.map(\.weight), blend: blend)
        return found
    }
}

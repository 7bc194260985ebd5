// Everything that determines a generated image. Two requests that are equal give the same
// bytes (at any thread count).

import PNGIO
import Schedulers

/// How several style reference images are combined.
public enum StyleBlend: String, Sendable, CaseIterable, Codable {
    /// Weighted average of the style embeddings (weights normalised to sum 1).
    case linear
    /// Spherical interpolation between exactly two embeddings, t = w2 / (w1 + w2).
    case slerp
}

/// How img2img brings an input image of another shape to the output size.
public enum ImageFit: String, Sendable, CaseIterable, Codable {
    /// Centre-crop to the output's aspect ratio, then resize: nothing is distorted, edges may be lost.
    case crop
    /// Resize to the output size, the aspect ratio changing with it.
    case stretch
}

public struct StyleReference: Sendable {
    public var image: RGBImage
    public var weight: Float
    public init(image: RGBImage, weight: Float = 1) {
        self.image = image
        self.weight = weight
    }
}

/// The one set of defaults of a generation's settings, for the library request, the CLI options,
/// batch lines and a model without sampling_defaults.json (diffusers' guidance 5, style strength 1).
public enum GenerationDefaults {
    public static let steps = 20
    /// Steps of the few-step (LCM) preset.
    public static let fastSteps = 4
    public static let scheduler = SchedulerKind.ddim
    public static let eta: Float = 0
    public static let blend = StyleBlend.linear
    /// img2img: the share of the schedule run.
    public static let strength = 0.6
    public static let guidanceScale: Float = 5
    public static let styleStrength: Float = 1
    public static let clipSkip = 1
    public static let initImageFit = ImageFit.crop
}

public struct GenerationRequest: Sendable {
    public var prompt: String
    public var negativePrompt = ""
    public var styleImages: [StyleReference] = []
    public var blend: StyleBlend = GenerationDefaults.blend
    /// A style preset of the model (style_encoder/presets.safetensors) used as the style
    /// embedding when there are no style images; nil: none.
    public var stylePreset: String?
    /// Style images only: 0 uses each image's style embedding as it is; t > 0 replaces it by the
    /// softmax(-distance^2 / t) mixture of the model's style presets (StylePresets.snap), so a
    /// reference drawn in a style the model knows conditions like that style's preset.
    public var styleSnap: Float = 0
    /// Per-block factors on the style strength (diffusers' set_ip_adapter_scale dictionary,
    /// InstantStyle); nil: every block 1.
    public var styleBlockScales: StyleBlockScales?
    /// Weight of the style attention (IP-Adapter scale) for style images or a preset; 0 ignores them.
    public var styleStrength: Float = GenerationDefaults.styleStrength
    /// Classifier-free guidance scale g: eps = eps_uncond + g (eps_cond - eps_uncond).
    public var guidanceScale: Float = GenerationDefaults.guidanceScale
    public var steps = GenerationDefaults.steps
    public var scheduler: SchedulerKind = GenerationDefaults.scheduler
    /// DDIM only: 0 is deterministic.
    public var eta: Float = GenerationDefaults.eta
    public var seed: UInt64 = 0
    /// img2img: the image to convert, and how much of the schedule to run (0, 1].
    public var initImage: RGBImage?
    public var strength: Double = GenerationDefaults.strength
    /// How the init image is brought to the output size (resized with an antialiased filter).
    public var initImageFit: ImageFit = GenerationDefaults.initImageFit
    /// The output size; nil: the model's own (StyleDiffusionPipeline.imageSize). Multiples of
    /// the pipeline's sizeMultiple.
    public var width: Int?
    public var height: Int?
    /// AUTOMATIC1111's "Clip skip": 1 uses the text encoder's last layer, 2 the one before, ...
    public var clipSkip: Int = GenerationDefaults.clipSkip
    /// Which decoder turns the final latents into the image: the VAE's, or the folder's
    /// vae_tiny/ (faster, less exact).
    public var decoder: VAEDecoder = .full

    public init(prompt: String) { self.prompt = prompt }
}

/// The accepted range of every generation setting: one set of rules for the CLI, batch lines,
/// replayed metadata and library callers. The bounds keep the arithmetic finite (a guidance of
/// 3.4e38 or an eta above 1 turns the latents into NaN) while covering every useful value.
public enum GenerationLimits {
    public static let steps = 1...1000
    public static let guidanceScale: ClosedRange<Float> = 0...100
    public static let styleStrength: ClosedRange<Float> = 0...20
    public static let styleSnap: ClosedRange<Float> = 0...100
    public static let eta: ClosedRange<Float> = 0...1
    public static let styleWeight: ClosedRange<Float> = 0...1000
    /// The model's text encoder may allow fewer.
    public static let clipSkip = 1...48

    /// What is wrong with these settings (nil: left to the default), one message per problem
    /// naming the setting; empty when all are valid.
    public static func problems(
        steps: Int?, guidanceScale: Float?, styleStrength: Float?, styleSnap: Float?, eta: Float?,
        scheduler: SchedulerKind?, strength: Double?, styleWeights: [Float], blend: StyleBlend?
    ) -> [String] {
        var found: [String] = []
        func check<T: Comparable>(_ value: T?, _ range: ClosedRange<T>, _ name: String) {
            guard let value else { return }
            if let f = value as? Float, !f.isFinite { found.append("\(name) must be a finite number, got \(f)"); return }
            if !range.contains(value) { found.append("\(name) must be between \(range.lowerBound) and \(range.upperBound), got \(value)") }
        }
        check(steps, Self.steps, "steps")
        check(guidanceScale, Self.guidanceScale, "guidance")
        check(styleStrength, Self.styleStrength, "style strength")
        check(styleSnap, Self.styleSnap, "style snap")
        check(eta, Self.eta, "eta")
        if let eta, eta != 0, let scheduler, scheduler != .ddim && scheduler != .tcd {
            found.append("eta applies to the ddim and tcd schedulers only")
        }
        if let strength {
            if !(strength > 0 && strength <= 1) {
                found.append("strength must be in (0, 1], got \(strength)")
            } else if let steps, Self.steps.contains(steps), Int(Double(steps) * strength) < 1 {
                found.append("strength \(strength) keeps no step of \(steps); raise the strength or the step count "
                    + "(at least \(1.0 / Double(steps)))")
            }
        }
        for w in styleWeights { check(w, styleWeight, "style image weight") }
        if !styleWeights.isEmpty, !styleWeights.contains(where: { $0 > 0 }) { found.append("style image weights are all 0") }
        if (styleSnap ?? 0) > 0 && styleWeights.isEmpty { found.append("style snap applies to style images; none given") }
        if blend == .slerp && styleWeights.count != 2 {
            found.append("the slerp blend needs exactly two style images, got \(styleWeights.count)")
        }
        return found
    }
}

extension GenerationRequest {
    /// Checks every setting against GenerationLimits (PipelineError.invalidRequest).
    public func validate() throws {
        let found = GenerationLimits.problems(
            steps: steps, guidanceScale: guidanceScale, styleStrength: styleStrength, styleSnap: styleSnap, eta: eta,
            scheduler: scheduler, strength: initImage == nil ? nil : strength, styleWeights: styleImages.map(\.weight), blend: blend)
        guard found.isEmpty else { throw PipelineError.invalidRequest(found.joined(separator: "; ")) }
    }
}

/// The decoder of a generation: the model's VAE, or its vae_tiny/ (diffusers AutoencoderTiny).
public enum VAEDecoder: String, Codable, CaseIterable, Sendable {
    case full, tiny
}

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

public struct StyleReference: Sendable {
    public var image: RGBImage
    public var weight: Float
    public init(image: RGBImage, weight: Float = 1) {
        self.image = image
        self.weight = weight
    }
}

public struct GenerationRequest: Sendable {
    public var prompt: String
    public var negativePrompt = ""
    public var styleImages: [StyleReference] = []
    public var blend: StyleBlend = .linear
    /// A style preset of the model (style_encoder/presets.safetensors) used as the style
    /// embedding when there are no style images; nil: none.
    public var stylePreset: String?
    /// Style images only: 0 uses each image's style embedding as it is; t > 0 replaces it by the
    /// softmax(-distance^2 / t) mixture of the model's style presets (StylePresets.snap), so a
    /// reference drawn in a style the model knows conditions like that style's preset.
    public var styleSnap: Float = 0
    /// Weight of the style attention (IP-Adapter scale) for style images or a preset; 0 ignores them.
    public var styleStrength: Float = 1
    /// Classifier-free guidance scale g: eps = eps_uncond + g (eps_cond - eps_uncond).
    public var guidanceScale: Float = 5
    public var steps = 20
    public var scheduler: SchedulerKind = .ddim
    /// DDIM only: 0 is deterministic.
    public var eta: Float = 0
    public var seed: UInt64 = 0
    /// img2img: the image to convert, and how much of the schedule to run (0, 1].
    public var initImage: RGBImage?
    public var strength: Double = 0.6

    public init(prompt: String) { self.prompt = prompt }
}

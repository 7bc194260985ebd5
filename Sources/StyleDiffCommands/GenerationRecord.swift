// The generation parameters stored in every output PNG: a JSON chunk ("stylediff") holding
// every setting, from which `replay` regenerates the file, and a human-readable "parameters"
// chunk in the convention image-generation tools use (prompt line, "Negative prompt:" line,
// then "Key: value" pairs).

import FileAccess
import Foundation
import Pipeline
import Schedulers
import Tensors

public struct InputFile: Codable, Equatable, Sendable {
    public var path: String
    public var weight: Float?
    public var sha256: String
}

public struct GenerationRecord: Codable, Equatable, Sendable {
    public var version = 1
    public var mode: GenerationMode
    public var prompt: String
    public var negativePrompt: String
    public var style: String?
    /// The style preset used for the style attention (no style images); absent in records
    /// from before presets, which replay as before.
    public var stylePreset: String? = nil
    public var styleImages: [InputFile]
    public var blend: StyleBlend
    public var styleStrength: Float
    /// The style snap temperature for the style images (GenerationRequest.styleSnap); absent when
    /// 0, so records without it (and from before it) replay as before.
    public var styleSnap: Float? = nil
    public var guidanceScale: Float
    public var steps: Int
    public var scheduler: SchedulerKind
    public var eta: Float
    public var seed: UInt64
    public var initImage: InputFile?
    public var strength: Double?
    /// How the init image was brought to the output size; absent in records from before the
    /// choice, which stretched (ImageFit.stretch).
    public var fit: ImageFit? = nil
    /// AUTOMATIC1111's clip skip when above 1 (absent: 1).
    public var clipSkip: Int? = nil
    /// Per-block style scales (StyleBlockScales JSON), with style images only.
    public var styleBlocks: String? = nil
    /// The IP-Adapter a Stable Diffusion folder used for the style images (path, combined hash).
    public var ipAdapter: InputFile? = nil
    /// LoRA files fused into the model (path, scale as weight, hash), in load order; absent without.
    public var loras: [InputFile]? = nil
    /// How the model held its weights (--weights) when not as stored; absent: as stored.
    public var weights: WeightPrecision? = nil
    /// The decoder when not the VAE's (`tiny`: the folder's vae_tiny/); absent: the VAE.
    public var decoder: VAEDecoder? = nil
    public var modelHash: String
    /// The output size (records from before non-square sizes store one "size").
    public var width: Int
    public var height: Int

    enum CodingKeys: String, CodingKey {
        case version, mode, prompt, style, blend, steps, scheduler, eta, seed, strength, width, height, fit, size
        case negativePrompt = "negative_prompt", styleImages = "style_images", styleStrength = "style_strength"
        case stylePreset = "style_preset", styleSnap = "style_snap", clipSkip = "clip_skip", styleBlocks = "style_blocks"
        case ipAdapter = "ip_adapter", loras, weights, decoder
        case guidanceScale = "guidance_scale", initImage = "init_image", modelHash = "model_hash"
    }

    public init(
        mode: GenerationMode, prompt: String, negativePrompt: String, style: String?, stylePreset: String?,
        styleImages: [InputFile], blend: StyleBlend, styleStrength: Float, styleSnap: Float?, guidanceScale: Float, steps: Int,
        scheduler: SchedulerKind, eta: Float, seed: UInt64, initImage: InputFile?, strength: Double?, fit: ImageFit?,
        clipSkip: Int?, modelHash: String, width: Int, height: Int, styleBlocks: String? = nil, ipAdapter: InputFile? = nil,
        loras: [InputFile]? = nil, weights: WeightPrecision? = nil, decoder: VAEDecoder? = nil
    ) {
        (self.mode, self.prompt, self.negativePrompt, self.style, self.stylePreset) = (mode, prompt, negativePrompt, style, stylePreset)
        (self.styleImages, self.blend, self.styleStrength, self.styleSnap) = (styleImages, blend, styleStrength, styleSnap)
        (self.guidanceScale, self.steps, self.scheduler, self.eta, self.seed) = (guidanceScale, steps, scheduler, eta, seed)
        (self.initImage, self.strength, self.fit, self.clipSkip) = (initImage, strength, fit, clipSkip)
        (self.modelHash, self.width, self.height, self.styleBlocks, self.ipAdapter) = (modelHash, width, height, styleBlocks, ipAdapter)
        self.loras = loras
        self.weights = weights
        self.decoder = decoder
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decode(Int.self, forKey: .version)
        mode = try c.decode(GenerationMode.self, forKey: .mode)
        prompt = try c.decode(String.self, forKey: .prompt)
        negativePrompt = try c.decode(String.self, forKey: .negativePrompt)
        style = try c.decodeIfPresent(String.self, forKey: .style)
        stylePreset = try c.decodeIfPresent(String.self, forKey: .stylePreset)
        styleImages = try c.decode([InputFile].self, forKey: .styleImages)
        blend = try c.decode(StyleBlend.self, forKey: .blend)
        styleStrength = try c.decode(Float.self, forKey: .styleStrength)
        styleSnap = try c.decodeIfPresent(Float.self, forKey: .styleSnap)
        guidanceScale = try c.decode(Float.self, forKey: .guidanceScale)
        steps = try c.decode(Int.self, forKey: .steps)
        scheduler = try c.decode(SchedulerKind.self, forKey: .scheduler)
        eta = try c.decode(Float.self, forKey: .eta)
        seed = try c.decode(UInt64.self, forKey: .seed)
        initImage = try c.decodeIfPresent(InputFile.self, forKey: .initImage)
        strength = try c.decodeIfPresent(Double.self, forKey: .strength)
        fit = try c.decodeIfPresent(ImageFit.self, forKey: .fit)
        clipSkip = try c.decodeIfPresent(Int.self, forKey: .clipSkip)
        styleBlocks = try c.decodeIfPresent(String.self, forKey: .styleBlocks)
        ipAdapter = try c.decodeIfPresent(InputFile.self, forKey: .ipAdapter)
        loras = try c.decodeIfPresent([InputFile].self, forKey: .loras)
        weights = try c.decodeIfPresent(WeightPrecision.self, forKey: .weights)
        self.decoder = try c.decodeIfPresent(VAEDecoder.self, forKey: .decoder)
        modelHash = try c.decode(String.self, forKey: .modelHash)
        if let size = try c.decodeIfPresent(Int.self, forKey: .size) {
            guard !c.contains(.width), !c.contains(.height) else {
                throw DecodingError.dataCorruptedError(forKey: .size, in: c, debugDescription: "size and width/height together")
            }
            (width, height) = (size, size)
        } else {
            width = try c.decode(Int.self, forKey: .width)
            height = try c.decode(Int.self, forKey: .height)
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(mode, forKey: .mode)
        try c.encode(prompt, forKey: .prompt)
        try c.encode(negativePrompt, forKey: .negativePrompt)
        try c.encodeIfPresent(style, forKey: .style)
        try c.encodeIfPresent(stylePreset, forKey: .stylePreset)
        try c.encode(styleImages, forKey: .styleImages)
        try c.encode(blend, forKey: .blend)
        try c.encode(styleStrength, forKey: .styleStrength)
        try c.encodeIfPresent(styleSnap, forKey: .styleSnap)
        try c.encode(guidanceScale, forKey: .guidanceScale)
        try c.encode(steps, forKey: .steps)
        try c.encode(scheduler, forKey: .scheduler)
        try c.encode(eta, forKey: .eta)
        try c.encode(seed, forKey: .seed)
        try c.encodeIfPresent(initImage, forKey: .initImage)
        try c.encodeIfPresent(strength, forKey: .strength)
        try c.encodeIfPresent(fit, forKey: .fit)
        try c.encodeIfPresent(clipSkip, forKey: .clipSkip)
        try c.encodeIfPresent(styleBlocks, forKey: .styleBlocks)
        try c.encodeIfPresent(ipAdapter, forKey: .ipAdapter)
        try c.encodeIfPresent(loras, forKey: .loras)
        try c.encodeIfPresent(weights, forKey: .weights)
        try c.encodeIfPresent(decoder, forKey: .decoder)
        try c.encode(modelHash, forKey: .modelHash)
        try c.encode(width, forKey: .width)
        try c.encode(height, forKey: .height)
    }

    /// Canonical JSON (sorted keys), so equal records give equal bytes.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The "parameters" text.
    public var parametersText: String {
        var lines = [prompt]
        if !negativePrompt.isEmpty { lines.append("Negative prompt: \(negativePrompt)") }
        var pairs = ["Steps: \(steps)", "Sampler: \(scheduler.rawValue)", "CFG scale: \(guidanceScale)", "Seed: \(seed)",
                     "Size: \(width)x\(height)", "Model hash: \(modelHash.prefix(10))"]
        if let style { pairs.append("Style: \(style)") }
        if let stylePreset, styleImages.isEmpty {
            pairs.append("Style preset: \(stylePreset)")
            pairs.append("Style strength: \(styleStrength)")
        }
        if !styleImages.isEmpty {
            pairs.append("Style images: " + styleImages.map { "\(FileAccess.lastComponent(of: $0.path)):\($0.weight ?? 1)" }.joined(separator: " "))
            pairs.append("Style strength: \(styleStrength)")
            if let styleSnap { pairs.append("Style snap: \(styleSnap)") }
            pairs.append("Blend: \(blend.rawValue)")
        }
        if let initImage, let strength {
            pairs.append("Init image: \(FileAccess.lastComponent(of: initImage.path))")
            pairs.append("Denoising strength: \(strength)")
        }
        if let fit, initImage != nil { pairs.append("Resize mode: \(fit.rawValue)") }
        if let clipSkip { pairs.append("Clip skip: \(clipSkip)") }
        if let ipAdapter { pairs.append("IP-Adapter: \(FileAccess.lastComponent(of: ipAdapter.path))") }
        if let styleBlocks { pairs.append("Style blocks: \(styleBlocks)") }
        if let loras, !loras.isEmpty {
            pairs.append("LoRA: " + loras.map { "\(FileAccess.lastComponent(of: $0.path)):\($0.weight ?? 1)" }.joined(separator: " "))
        }
        if let weights { pairs.append("Weights: \(weights.rawValue)") }
        if let decoder { pairs.append("Decoder: \(decoder.rawValue)") }
        if (scheduler == .ddim || scheduler == .tcd) && eta > 0 { pairs.append("Eta: \(eta)") }
        lines.append(pairs.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}

/// What a record does: generate from noise, or convert an input image (img2img).
public enum GenerationMode: String, Codable, Sendable {
    case generate, convert
}

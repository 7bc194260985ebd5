// The generation parameters stored in every output PNG: a JSON chunk ("stylediff") holding
// every setting, from which `replay` regenerates the file, and a human-readable "parameters"
// chunk in the convention image-generation tools use (prompt line, "Negative prompt:" line,
// then "Key: value" pairs).

import FileAccess
import Foundation
import Pipeline
import Schedulers

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
    public var modelHash: String
    public var size: Int

    enum CodingKeys: String, CodingKey {
        case version, mode, prompt, style, blend, steps, scheduler, eta, seed, strength, size
        case negativePrompt = "negative_prompt", styleImages = "style_images", styleStrength = "style_strength"
        case stylePreset = "style_preset", styleSnap = "style_snap"
        case guidanceScale = "guidance_scale", initImage = "init_image", modelHash = "model_hash"
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
                     "Size: \(size)x\(size)", "Model hash: \(modelHash.prefix(10))"]
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
        if scheduler == .ddim && eta > 0 { pairs.append("Eta: \(eta)") }
        lines.append(pairs.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}

/// What a record does: generate from noise, or convert an input image (img2img).
public enum GenerationMode: String, Codable, Sendable {
    case generate, convert
}

// A model's recommended sampling settings, used where the command line or a batch line leaves
// them out.

import FileAccess
import Foundation

/// `sampling_defaults.json` in a model folder (a stylediff file; diffusers ignores it):
/// `{"guidance_scale": 10, "reference_style_strength": 2}`, both optional. Without the file (or a
/// field) the defaults are diffusers' guidance 5 and style strength 1. The reference strength
/// applies only when style images are given: a style preset or text alone keeps strength 1.
/// Unknown fields are errors, so a misspelt setting is never silently ignored.
public struct SamplingDefaults: Equatable, Sendable {
    public static let fileName = "sampling_defaults.json"

    /// Classifier-free guidance scale.
    public var guidanceScale: Float = GenerationDefaults.guidanceScale
    /// Style strength when style reference images are given.
    public var referenceStyleStrength: Float = GenerationDefaults.styleStrength

    public init() {}

    /// diffusers' StableDiffusionPipeline defaults (guidance 7.5), for folders without the file.
    public static let stableDiffusion: SamplingDefaults = {
        var d = SamplingDefaults()
        d.guidanceScale = 7.5
        return d
    }()

    /// Reads `fileName` from `directory`; `fallback` for what it does not set, or when it does
    /// not exist. A file that cannot be read is FileAccessError, a malformed one
    /// PipelineError.invalidModel.
    public static func load(modelDirectory directory: String, fallback: SamplingDefaults = SamplingDefaults()) throws -> SamplingDefaults {
        let path = directory + "/" + fileName
        guard FileAccess.exists(path) else { return fallback }
        let bytes: [UInt8]
        bytes = try FileAccess.read(path, limit: 1 << 20)
        return try parse(Data(bytes), path: path, fallback: fallback)
    }

    private struct File: Decodable {
        var guidanceScale: Float?
        var referenceStyleStrength: Float?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case guidanceScale = "guidance_scale", referenceStyleStrength = "reference_style_strength"
        }
    }

    /// Parses the file's bytes with the strict config reader (JSONConfigFile).
    static func parse(_ data: Data, path: String, fallback: SamplingDefaults = SamplingDefaults()) throws -> SamplingDefaults {
        let file: File
        do {
            let config = try JSONConfigFile(data: data, path: path)
            try config.checkUntypedFields(typed: Set(File.CodingKeys.allCases.map(\.rawValue)))
            file = try config.decode(File.self)
        } catch let e as ConfigurationError {
            throw PipelineError.invalidModel("\(e)")
        }
        func checked(_ value: Float?, _ key: String) throws -> Float? {
            guard let value else { return nil }
            let range = key == "guidance_scale" ? GenerationLimits.guidanceScale : GenerationLimits.styleStrength
            guard value.isFinite, range.contains(value) else {
                throw PipelineError.invalidModel("\(path): '\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
            }
            return value
        }
        var defaults = fallback
        defaults.guidanceScale = try checked(file.guidanceScale, "guidance_scale") ?? defaults.guidanceScale
        defaults.referenceStyleStrength = try checked(file.referenceStyleStrength, "reference_style_strength") ?? defaults.referenceStyleStrength
        return defaults
    }

    /// The guidance scale of a generation: the one asked for, else the model's.
    public func guidance(_ asked: Float?) -> Float { asked ?? guidanceScale }

    /// The style strength of a generation: the one asked for, else the model's reference
    /// strength with style images and 1 without (presets, text).
    public func styleStrength(_ asked: Float?, hasStyleImages: Bool) -> Float {
        asked ?? (hasStyleImages ? referenceStyleStrength : GenerationDefaults.styleStrength)
    }
}

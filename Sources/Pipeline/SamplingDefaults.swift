// A model's recommended sampling settings, used where the command line or a batch line leaves
// them out.

import FileAccess
import Foundation

/// `sampling_defaults.json` in a model folder (a stylediff file; diffusers ignores it):
/// `{"guidance_scale": 10, "reference_style_strength": 2}`, both optional. Without the file (or a
/// field) the defaults are diffusers' guidance 5 and style strength 1. The reference strength
/// applies only when style images are given: a style preset or text alone keeps strength 1.
/// Unknown fields are errors, so a misspelt setting is never silently ignored.
public struct SamplingDefaults: Equatable {
    public static let fileName = "sampling_defaults.json"

    /// Classifier-free guidance scale.
    public var guidanceScale: Float = GenerationDefaults.guidanceScale
    /// Style strength when style reference images are given.
    public var referenceStyleStrength: Float = GenerationDefaults.styleStrength

    public init() {}

    /// Reads `fileName` from `directory`; the built-in defaults when it does not exist. A file
    /// that cannot be read is FileAccessError, a malformed one PipelineError.invalidModel.
    public static func load(modelDirectory directory: String) throws -> SamplingDefaults {
        let path = directory + "/" + fileName
        guard FileAccess.exists(path) else { return SamplingDefaults() }
        let bytes: [UInt8]
        bytes = try FileAccess.read(path, limit: 1 << 20)
        return try parse(Data(bytes), path: path)
    }

    private struct File: Decodable {
        var guidanceScale: Float?
        var referenceStyleStrength: Float?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case guidanceScale = "guidance_scale", referenceStyleStrength = "reference_style_strength"
        }
    }

    /// Parses the file's bytes with the strict config reader (JSONConfigFile).
    static func parse(_ data: Data, path: String) throws -> SamplingDefaults {
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
        var defaults = SamplingDefaults()
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

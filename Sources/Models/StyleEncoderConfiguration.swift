// style_encoder/config.json of the default model (tools/train_model.py StyleEncoder).

import Foundation

public struct StyleEncoderConfiguration: Decodable, Equatable {
    public var channels: [Int]
    public var groups: Int
    public var embedDim: Int
    public var tokens: Int
    public var crossAttentionDim: Int
    /// Stride of each convolution (1 or 2); absent in older models, where every one is 2.
    public var strides: [Int]?
    /// Side of the square reference image the encoder reads; absent: 64 (the default model).
    public var imageSize: Int?

    /// The reference image side (`image_size`, default 64).
    public var referenceImageSize: Int { imageSize ?? 64 }

    /// `strides`, or 2 for every convolution when the file has none.
    public var convolutionStrides: [Int] { strides ?? Array(repeating: 2, count: channels.count) }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case channels, groups, embedDim = "embed_dim", tokens, crossAttentionDim = "cross_attention_dim", strides
        case imageSize = "image_size"
    }

    public static func load(path: String) throws -> StyleEncoderConfiguration {
        let file = try ConfigurationFile(path: path)
        try file.checkUntypedFields(typed: Set(CodingKeys.allCases.map(\.rawValue)))
        let c = try file.decode(StyleEncoderConfiguration.self)
        if let size = c.imageSize, !(8...1024).contains(size) {
            throw ModelError.invalidConfiguration(file: path, reason: "image_size \(size) must be 8...1024")
        }
        guard !c.channels.isEmpty, c.groups > 0, c.channels.allSatisfy({ $0 % c.groups == 0 }), c.embedDim > 0 else {
            throw ModelError.invalidConfiguration(file: path, reason: "channels \(c.channels) must be divisible by groups \(c.groups)")
        }
        if let strides = c.strides, strides.count != c.channels.count || !strides.allSatisfy({ $0 == 1 || $0 == 2 }) {
            throw ModelError.invalidConfiguration(file: path, reason: "strides \(strides) must give 1 or 2 for each of the \(c.channels.count) convolutions")
        }
        return c
    }
}

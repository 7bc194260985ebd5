// style_encoder/config.json of the default model (tools/train_model.py StyleEncoder).

import Foundation

public struct StyleEncoderConfiguration: Decodable, Equatable {
    public var channels: [Int]
    public var groups: Int
    public var embedDim: Int
    public var tokens: Int
    public var crossAttentionDim: Int

    enum CodingKeys: String, CodingKey {
        case channels, groups, embedDim = "embed_dim", tokens, crossAttentionDim = "cross_attention_dim"
    }

    public static func load(path: String) throws -> StyleEncoderConfiguration {
        let file = try ConfigurationFile(path: path)
        let c = try file.decode(StyleEncoderConfiguration.self)
        guard !c.channels.isEmpty, c.groups > 0, c.channels.allSatisfy({ $0 % c.groups == 0 }), c.embedDim > 0 else {
            throw ModelError.invalidConfiguration(file: path, reason: "channels \(c.channels) must be divisible by groups \(c.groups)")
        }
        return c
    }
}

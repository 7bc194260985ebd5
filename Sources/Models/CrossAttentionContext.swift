// The conditioning a UNet's cross-attention layers read (text tokens, IP-Adapter style tokens
// and their weights), with the keys and values each layer made from those tokens, kept for the
// request's next steps.

import Foundation
import Tensors

/// What a UNet's cross-attention reads: text tokens, optional style tokens and their weight,
/// and the keys and values each layer made from the tokens: a request's steps share one context,
/// so they are made once per request instead of once per step (the same values).
public struct CrossAttentionContext {
    public let text: Tensor          // [N, L, C]
    public let style: Tensor?        // [N, T, C]
    public var styleScale: Float
    /// Per attention module ("down_blocks.0.attentions.1", "mid_block.attentions.0"), a factor
    /// on styleScale; modules not listed get 0 (diffusers' set_ip_adapter_scale with a dict,
    /// InstantStyle). nil: every module 1.
    public var layerScales: [String: Float]?
    /// Projections of `text` and `style`, shared by copies of this context (their tokens are the same).
    private let projections = TokenProjections()

    public init(text: Tensor, style: Tensor? = nil, styleScale: Float = 1, layerScales: [String: Float]? = nil) {
        self.text = text
        self.style = style
        self.styleScale = styleScale
        self.layerScales = layerScales
    }

    /// The style attention weight of the transformer block at `prefix`
    /// ("<module>.transformer_blocks.N").
    func styleScale(forBlock prefix: String) -> Float {
        guard let layerScales else { return styleScale }
        return styleScale * (layerScales[Self.module(ofBlock: prefix)] ?? 0)
    }

    /// The attention module ("up_blocks.1.attentions.0") of a transformer block's prefix.
    public static func module(ofBlock prefix: String) -> String {
        prefix.range(of: ".transformer_blocks.").map { String(prefix[..<$0.lowerBound]) } ?? prefix
    }

    /// Which tokens a projection reads.
    enum Tokens: Int { case text, style }

    /// `layer` applied to the text or style tokens [N, L, C] -> [N, L, out], made at the first
    /// call for that layer and kept with this context.
    func projected(_ tokens: Tokens, by layer: Linear) throws -> Tensor {
        try projections.value(tokens, layer) {
            switch tokens {
            case .text: return try layer(text)
            case .style:
                guard let style else { throw ModelError.invalidInput("a style projection was asked for without style tokens") }
                return try layer(style)
            }
        }
    }
}

/// Tensors made from a context's tokens by a layer, keyed by the layer's weights (held here, so
/// their identity is not reused while the entry lives) and the tokens it read.
private final class TokenProjections: @unchecked Sendable {
    private struct Entry {
        let layer: Linear
        let value: Tensor
    }
    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]

    private struct Key: Hashable {
        let weights: ObjectIdentifier
        let tokens: Int
    }

    func value(_ tokens: CrossAttentionContext.Tokens, _ layer: Linear, make: () throws -> Tensor) throws -> Tensor {
        let key = Key(weights: layer.weight.identity, tokens: tokens.rawValue)
        if let entry = lock.withLock({ entries[key] }) { return entry.value }
        let value = try make()
        lock.withLock { entries[key] = Entry(layer: layer, value: value) }
        return value
    }
}

// Per-block IP-Adapter scales in the shape of diffusers' set_ip_adapter_scale dictionaries
// (loaders/unet_loader_utils.py _maybe_expand_lora_scales with default 0), e.g. InstantStyle's
// style-only injection {"up": {"block_1": [0.0, 1.0, 0.0]}}:
//
//   "down" / "up": a number for every attention module of every block with attentions, or
//                  {"block_N": number or [one per attention module of block N]}
//   "mid":         a number (or a one-element list)
//   anything not named: 0
//
// Expanded against a UNet to one factor per attention module ("up_blocks.1.attentions.1"),
// which multiplies the style strength.

import FileAccess
import Foundation
import Models

public struct StyleBlockScales: Equatable, Sendable {
    /// The JSON text as given (what records store).
    public let text: String
    let down: Part?, up: Part?
    let mid: Float?

    enum Part: Equatable, Sendable {
        case all(Float)
        case blocks([Int: [Float]])  // one value, or one per attention module
    }

    /// Parses the JSON object; PipelineError.invalidRequest says what is wrong.
    public init(json text: String) throws {
        func fail(_ why: String) -> PipelineError { PipelineError.invalidRequest("style block scales \(text): \(why)") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw fail("must be a JSON object such as {\"up\": {\"block_1\": [0, 1, 0]}}")
        }
        func number(_ v: Any) throws -> Float {
            guard let n = JSONConfigFile.number(v).map(Float.init), n.isFinite, GenerationLimits.styleStrength.contains(n) else {
                throw fail("scales must be numbers between \(GenerationLimits.styleStrength.lowerBound) and \(GenerationLimits.styleStrength.upperBound)")
            }
            return n
        }
        func part(_ key: String) throws -> Part? {
            guard let v = object[key] else { return nil }
            if JSONConfigFile.number(v) != nil { return .all(try number(v)) }
            guard let blocks = v as? [String: Any] else { throw fail("\"\(key)\" must be a number or {\"block_N\": ...}") }
            var out: [Int: [Float]] = [:]
            for (name, value) in blocks {
                guard name.hasPrefix("block_"), let i = Int(name.dropFirst(6)), (0..<64).contains(i) else {
                    throw fail("\"\(key)\" has \"\(name)\"; blocks are block_0, block_1, ...")
                }
                if let list = value as? [Any] {
                    guard !list.isEmpty else { throw fail("\"\(key).\(name)\" is an empty list") }
                    out[i] = try list.map(number)
                } else {
                    out[i] = [try number(value)]
                }
            }
            return .blocks(out)
        }
        for key in object.keys where !["down", "mid", "up"].contains(key) { throw fail("unknown key \"\(key)\" (down, mid, up)") }
        down = try part("down")
        up = try part("up")
        if let v = object["mid"] {
            if let list = v as? [Any] {
                guard list.count == 1 else { throw fail("\"mid\" takes one scale") }
                mid = try number(list[0])
            } else {
                mid = try number(v)
            }
        } else {
            mid = nil
        }
        self.text = text
    }

    /// One factor per attention module of `unet` (its cross-attention transformer modules);
    /// PipelineError.invalidRequest for a block without attentions or a list of the wrong length.
    public func layerScales(for unet: UNet2DConditionModel) throws -> [String: Float] {
        let modules = unet.crossAttentionLayers.map { CrossAttentionContext.module(ofBlock: $0.prefix) }
        var perBlock: [String: [Int: [String]]] = [:]  // "down"/"up" -> block -> its modules in order
        var seen = Set<String>()
        for m in modules where seen.insert(m).inserted {  // in the UNet's order: blocks, then attentions
            let parts = m.split(separator: ".")
            guard parts.count == 4, let block = Int(parts[1]) else { continue }
            let side = parts[0] == "down_blocks" ? "down" : parts[0] == "up_blocks" ? "up" : ""
            guard !side.isEmpty else { continue }
            perBlock[side, default: [:]][block, default: []].append(m)
        }
        var scales: [String: Float] = [:]
        if let mid, modules.contains("mid_block.attentions.0") { scales["mid_block.attentions.0"] = mid }
        for (side, part) in [("down", down), ("up", up)] {
            guard let part else { continue }
            let blocks = perBlock[side] ?? [:]
            switch part {
            case .all(let v):
                for list in blocks.values { for m in list { scales[m] = v } }
            case .blocks(let given):
                for (block, values) in given {
                    guard let list = blocks[block] else {
                        throw PipelineError.invalidRequest("style block scales: \(side).block_\(block) has no attentions in this UNet "
                            + "(blocks with attentions: \(blocks.keys.sorted().map { "block_\($0)" }.joined(separator: ", ")))")
                    }
                    guard values.count == 1 || values.count == list.count else {
                        throw PipelineError.invalidRequest("style block scales: \(side).block_\(block) has \(list.count) attention "
                            + "modules, got \(values.count) scales")
                    }
                    for (i, m) in list.enumerated() { scales[m] = values.count == 1 ? values[0] : values[i] }
                }
            }
        }
        return scales
    }
}

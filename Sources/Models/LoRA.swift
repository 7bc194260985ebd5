// LoRA weights for the UNet and the CLIP text encoder, fused into the base weights at load as
// diffusers' load_lora_weights + fuse_lora does: W' = W + scale x s x (up @ down), with s the
// user's scale and `scale` alpha / rank (1 without an alpha). Layouts read:
// - diffusers / PEFT: `unet.` or `text_encoder.` + module path + `.lora_A.weight` /
//   `.lora_B.weight`, `.lora.down.weight` / `.lora.up.weight`, `.lora_linear_layer.down/up`, or
//   the attention-processor form `.processor.to_q_lora.down.weight` (keys without a component
//   prefix are the UNet's); alphas from `.alpha` tensors or from the `lora_adapter_metadata`
//   safetensors metadata diffusers writes (r, lora_alpha, use_rslora);
// - kohya (AUTOMATIC1111): `lora_unet_` / `lora_te_` + the module path with `_` for `.`, then
//   `.lora_down.weight`, `.lora_up.weight`, `.alpha`.
// Linear and convolution targets (down [r, in, k, k], up [out, r, 1, 1]). The product is
// computed in Float32 by the deterministic GEMM and added to the Float32 (or widened fp16) base.
// Not supported (errors naming the key): SDXL's second text encoder, SGM block names, DoRA,
// LoHa/LoKr, per-module rank or alpha patterns.

import Foundation
import SafeTensors
import Tensors

public struct LoRA {
    /// The model a LoRA entry changes.
    public enum Component: String, Sendable { case unet, textEncoder = "text encoder" }

    /// One low-rank update: where it goes (a module path with dots, or kohya's underscored
    /// form, resolved against the model's tensor names) and its factors.
    struct Update {
        var key: String
        var target: String
        var underscored: Bool
        var down: Tensor
        var up: Tensor
        var alpha: Float?
    }

    public let path: String
    /// The user's scale (fuse_lora's lora_scale).
    public let scale: Float
    let updates: [LoRA.Component: [Update]]
    /// alpha / r for updates without an `.alpha` tensor (from the adapter metadata), per component.
    let metadataScale: [LoRA.Component: Float]

    /// Reads a LoRA safetensors file; `scale` multiplies every update.
    public init(path: String, scale: Float = 1) throws {
        guard scale.isFinite, abs(scale) <= 100 else {
            throw ModelError.invalidConfiguration(file: path, reason: "LoRA scale \(scale) must be finite and at most 100 in magnitude")
        }
        let file = try SafetensorsFile(path: path)
        self.path = path
        self.scale = scale
        metadataScale = try Self.metadataScales(file)
        // Group the keys by (component, target, form) and collect down, up and alpha.
        struct Parts { var down: String?, up: String?, alpha: String? }
        var groups: [String: (component: LoRA.Component, target: String, underscored: Bool, parts: Parts)] = [:]
        for key in file.entries.keys.sorted() {
            let (component, target, underscored, role) = try Self.parse(key, file: path)
            let id = "\(component.rawValue)|\(underscored)|\(target)"
            var group = groups[id] ?? (component, target, underscored, Parts())
            switch role {
            case .down: group.parts.down = key
            case .up: group.parts.up = key
            case .alpha: group.parts.alpha = key
            }
            groups[id] = group
        }
        guard !groups.isEmpty else {
            throw ModelError.invalidConfiguration(file: path, reason: "no LoRA weights (no key in a diffusers, PEFT or kohya LoRA layout)")
        }
        var updates: [LoRA.Component: [Update]] = [:]
        for id in groups.keys.sorted() {
            guard let g = groups[id] else { continue }
            guard let downKey = g.parts.down, let upKey = g.parts.up else {
                let present = g.parts.down ?? g.parts.up ?? g.parts.alpha ?? g.target
                throw ModelError.invalidConfiguration(file: path, reason: "LoRA key '\(present)' has no matching \(g.parts.down == nil ? "down (A)" : "up (B)") weight")
            }
            let down = try file.tensor(downKey), up = try file.tensor(upKey)
            let rank = down.shape.first ?? 0
            guard rank > 0, down.rank == 2 || down.rank == 4, up.rank == down.rank, up.shape[1] == rank,
                  up.rank == 2 || (up.shape[2] == 1 && up.shape[3] == 1) else {
                throw ModelError.invalidConfiguration(file: path, reason: "LoRA '\(downKey)' \(down.shape) and '\(upKey)' \(up.shape) are not a down [r, in(, k, k)] / up [out, r(, 1, 1)] pair")
            }
            var alpha: Float?
            if let alphaKey = g.parts.alpha {
                let a = try file.tensor(alphaKey)
                guard a.count == 1, let value = a.scalars.first, value.isFinite else {
                    throw ModelError.invalidConfiguration(file: path, reason: "LoRA alpha '\(alphaKey)' must be one finite number, got shape \(a.shape)")
                }
                alpha = value
            }
            updates[g.component, default: []].append(
                Update(key: downKey, target: g.target, underscored: g.underscored, down: down, up: up, alpha: alpha))
        }
        self.updates = updates
    }

    /// The updates for `component`, each resolved to a tensor name of `store` and checked
    /// against its shape, registered with the store so that the model reads fused weights.
    /// A target the model does not have, or a shape that does not fit, is an error naming the key.
    public func attach(to store: WeightStore, component: LoRA.Component) throws {
        guard let list = updates[component], !list.isEmpty else { return }
        let names = store.file.entries.keys
        var underscoredNames: [String: String] = [:]
        for name in names where name.hasSuffix(".weight") {
            var module = String(name.dropLast(".weight".count))
            underscoredNames[module.replacingOccurrences(of: ".", with: "_")] = name
            if module.hasPrefix("text_model.") {
                module.removeFirst("text_model.".count)
            } else if component == .textEncoder {
                module = "text_model." + module
            }
            underscoredNames[module.replacingOccurrences(of: ".", with: "_"), default: name] = name
        }
        for u in list {
            let name: String?
            if u.underscored {
                name = underscoredNames[u.target]
            } else {
                let candidates = [u.target, u.target.hasPrefix("text_model.") ? String(u.target.dropFirst("text_model.".count)) : "text_model." + u.target]
                name = candidates.map { $0 + ".weight" }.first { store.file.entries[$0] != nil }
            }
            guard let name, let entry = store.file.entries[name] else {
                throw ModelError.invalidConfiguration(file: path, reason: "LoRA key '\(u.key)' targets '\(u.target)', which the \(component.rawValue) (\(store.file.path)) does not have")
            }
            let out = u.up.shape[0], inner = u.down.count / u.down.shape[0]
            let kernel = Array(u.down.shape.dropFirst(2)), baseKernel = Array(entry.shape.dropFirst(2))
            let fits = entry.shape.first == out && entry.shape.reduce(1, *) == out * inner
                && (kernel == baseKernel || (kernel.allSatisfy { $0 == 1 } && baseKernel.allSatisfy { $0 == 1 }))
            guard fits else {
                throw ModelError.invalidConfiguration(file: path, reason: "LoRA key '\(u.key)' (down \(u.down.shape), up \(u.up.shape)) does not fit '\(name)' \(entry.shape) of \(store.file.path)")
            }
            let rank = Float(u.down.shape[0])
            let ratio = u.alpha.map { $0 / rank } ?? metadataScale[component] ?? 1
            try store.addLowRankUpdate(to: name, down: u.down.reshaped([u.down.shape[0], inner]),
                                       up: u.up.reshaped([out, u.down.shape[0]]), scale: ratio * scale)
        }
    }

    enum Role { case down, up, alpha }

    /// (component, target, underscored, role) of a key; any key outside the layouts read is an error.
    static func parse(_ key: String, file: String) throws -> (LoRA.Component, String, Bool, Role) {
        func unsupported(_ why: String) -> ModelError {
            ModelError.invalidConfiguration(file: file, reason: "LoRA key '\(key)': \(why)")
        }
        // kohya
        for (prefix, component) in [("lora_unet_", LoRA.Component.unet), ("lora_te_", .textEncoder)] where key.hasPrefix(prefix) {
            let rest = String(key.dropFirst(prefix.count))
            for (suffix, role) in [(".lora_down.weight", Role.down), (".lora_up.weight", .up), (".alpha", .alpha)] where rest.hasSuffix(suffix) {
                let module = String(rest.dropLast(suffix.count))
                if component == .unet, module.hasPrefix("input_blocks") || module.hasPrefix("output_blocks") || module.hasPrefix("middle_block") {
                    throw unsupported("SGM (original Stable Diffusion) block names are not supported; convert it to diffusers names")
                }
                return (component, module, true, role)
            }
            throw unsupported("not a kohya LoRA down, up or alpha tensor (LoHa, LoKr and DoRA are not supported)")
        }
        if key.hasPrefix("lora_te1_") || key.hasPrefix("lora_te2_") || key.hasPrefix("text_encoder_2.") {
            throw unsupported("a second text encoder (SDXL) is not supported")
        }
        // diffusers / PEFT
        var component = LoRA.Component.unet
        var rest = key
        if rest.hasPrefix("unet.") { rest.removeFirst("unet.".count) }
        else if rest.hasPrefix("text_encoder.") { rest.removeFirst("text_encoder.".count); component = .textEncoder }
        let forms: [(String, Role)] = [
            (".lora_A.weight", .down), (".lora_B.weight", .up), (".lora.down.weight", .down), (".lora.up.weight", .up),
            (".lora_linear_layer.down.weight", .down), (".lora_linear_layer.up.weight", .up), (".alpha", .alpha),
        ]
        for (suffix, role) in forms where rest.hasSuffix(suffix) {
            var module = String(rest.dropLast(suffix.count))
            // Attention-processor form: attn1.processor.to_q_lora -> attn1.to_q (to_out_lora -> to_out.0).
            if let range = module.range(of: ".processor.") {
                let projection = module[range.upperBound...]
                guard projection.hasSuffix("_lora") else { throw unsupported("unknown attention-processor LoRA layer") }
                var name = String(projection.dropLast("_lora".count))
                if name == "to_out" { name = "to_out.0" }
                module = module[..<range.lowerBound] + "." + name
            }
            guard !module.isEmpty else { throw unsupported("no module path") }
            return (component, module, false, role)
        }
        throw unsupported("not a LoRA weight in the diffusers, PEFT or kohya layout (DoRA magnitudes and LoHa/LoKr are not supported)")
    }

    /// alpha / r per component from diffusers' `lora_adapter_metadata` (PEFT LoraConfig fields
    /// prefixed by component), when the file has it.
    static func metadataScales(_ file: SafetensorsFile) throws -> [LoRA.Component: Float] {
        guard let raw = file.metadata["lora_adapter_metadata"] else { return [:] }
        guard let data = raw.data(using: .utf8), let fields = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError.invalidConfiguration(file: file.path, reason: "lora_adapter_metadata is not a JSON object")
        }
        var scales: [LoRA.Component: Float] = [:]
        for (prefix, component) in [("unet", LoRA.Component.unet), ("text_encoder", .textEncoder)] {
            func number(_ name: String) -> Double? { (fields["\(prefix).\(name)"] as? NSNumber)?.doubleValue }
            guard let r = number("r") else { continue }
            let alpha = number("lora_alpha") ?? r
            for pattern in ["rank_pattern", "alpha_pattern"] {
                if let p = fields["\(prefix).\(pattern)"] as? [String: Any], !p.isEmpty {
                    throw ModelError.unsupportedConfiguration(file: file.path, field: "lora_adapter_metadata \(prefix).\(pattern)", value: "\(p.keys.sorted())")
                }
            }
            if (fields["\(prefix).use_dora"] as? Bool) == true {
                throw ModelError.unsupportedConfiguration(file: file.path, field: "lora_adapter_metadata \(prefix).use_dora", value: "true")
            }
            guard r >= 1, r <= 65536, alpha.isFinite else {
                throw ModelError.invalidConfiguration(file: file.path, reason: "lora_adapter_metadata \(prefix): r \(r), lora_alpha \(alpha)")
            }
            let rslora = (fields["\(prefix).use_rslora"] as? Bool) == true
            scales[component] = Float(rslora ? alpha / r.squareRoot() : alpha / r)
        }
        return scales
    }
}

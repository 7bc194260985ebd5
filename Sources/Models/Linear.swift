// torch nn.Linear: weight [out, in] (prepacked for GEMM at the store's precision), optional bias [out].

import Tensors

public struct Linear {
    public let weight: PackedMatrix
    public let bias: Tensor?

    public init(_ store: WeightStore, _ prefix: String, inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        try self.init(store, stacking: [prefix], inFeatures: inFeatures, outFeatures: [outFeatures], bias: bias)
    }

    /// Layers on the same input stacked into one: `prefixes[i]` with `outFeatures[i]` outputs,
    /// the outputs side by side in that order ([sum of outFeatures, in]). Each output is the
    /// same chain as in its own layer, so the bits equal the layers run one by one.
    public init(_ store: WeightStore, stacking prefixes: [String], inFeatures: Int, outFeatures: [Int], bias: Bool) throws {
        guard !prefixes.isEmpty, prefixes.count == outFeatures.count else {
            throw ModelError.invalidInput("linear: \(prefixes.count) layers to stack with \(outFeatures.count) output sizes")
        }
        weight = try store.packedMatrix(prefixes.map { $0 + ".weight" }, shapes: outFeatures.map { [$0, inFeatures] })
        let biases = bias ? try zip(prefixes, outFeatures).map { try store.tensor($0 + ".bias", shape: [$1]) } : []
        self.bias = !bias ? nil : biases.count == 1 ? biases[0] : try Tensor.concatenateFirstAxis(biases)
    }

    /// [..., in] -> [..., out]; with `residual` [..., out], the output plus it (the bytes of a
    /// separate add, made inside the product).
    public func callAsFunction(_ x: Tensor, adding residual: Tensor? = nil) throws -> Tensor {
        try x.linear(packed: weight, bias: bias, adding: residual)
    }
}

// Stacked linear layers (fused attention projections): the bytes of the layers one by one.

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Tensors

@Suite struct LinearTests {
    @Test func stackedLayersAreTheSeparateBytes() throws {
        let path = NSTemporaryDirectory() + "linear-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sizes = [("a", 24), ("b", 40), ("c", 8)]
        var tensors: [(String, Tensor)] = []
        for (i, (name, out)) in sizes.enumerated() {
            tensors.append(("\(name).weight", randomTensor([out, 37], seed: UInt64(10 + i))))
            tensors.append(("\(name).bias", randomTensor([out], seed: UInt64(20 + i))))
        }
        try SafetensorsWriter.write(tensors, to: path)
        let x = randomTensor([3, 13, 37], seed: 1)
        for bias in [true, false] {
            let store = try WeightStore(path: path)
            let stacked = try Linear(store, stacking: sizes.map(\.0), inFeatures: 37, outFeatures: sizes.map(\.1), bias: bias)
            #expect(stacked.weight.rows == 72 && stacked.weight.columns == 37)
            let parts = try sizes.map { try Linear(store, $0.0, inFeatures: 37, outFeatures: $0.1, bias: bias)(x) }
            #expect(bytes(try stacked(x)) == bytes(try Tensor.concatenateLastAxis(parts)), "bias \(bias)")
        }
        let store = try WeightStore(path: path)
        #expect(throws: ModelError.tensorShapeMismatch(file: path, tensor: "b.weight", expected: [24, 37], actual: [40, 37])) {
            try Linear(store, stacking: ["a", "b"], inFeatures: 37, outFeatures: [24, 24], bias: false)
        }
        #expect(throws: ModelError.self) { try Linear(store, stacking: ["a", "b"], inFeatures: 37, outFeatures: [24], bias: false) }
        #expect(throws: ModelError.self) { try Linear(store, stacking: [], inFeatures: 37, outFeatures: [], bias: false) }
    }
}

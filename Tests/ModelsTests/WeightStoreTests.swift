// WeightStore.packedMatrix: F16 weights are packed straight from the file into the panels the
// Float32 path makes (read, repack, concatenate, pack).

import Foundation
import Testing
import TestSupport
import Models
import SafeTensors
import Tensors

@Suite struct WeightStoreTests {
    /// Values that are exact halves, so an F16 and an F32 file hold the same weights.
    func halves(_ shape: [Int], seed: UInt64) throws -> Tensor {
        let t = randomTensor(shape, seed: seed)
        return try Tensor(shape: shape, values: t.scalars.map { Float(Float16($0)) })
    }

    /// The same matrices (values and panel format) from an F16 file (straight path) as from an
    /// F32 file (widened path): a 3x3 convolution, a 1x1 one, and linear layers stacked across
    /// the 32-row panel edge; every tensor counts as used, shape errors name the tensor, and a
    /// LoRA update on an F16 weight (the widened path) is in the packed matrix.
    @Test func f16WeightsPackAsTheirFloats() throws {
        // Compares panel formats of two loads, which follow the kernel variant.
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        let dir = NSTemporaryDirectory() + "weight-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tensors = [("conv.weight", try halves([40, 8, 3, 3], seed: 1)), ("proj.weight", try halves([24, 16, 1, 1], seed: 2)),
                       ("q.weight", try halves([33, 24], seed: 3)), ("k.weight", try halves([7, 24], seed: 4))]
        try SafetensorsWriter.write(tensors, to: dir + "/f16.safetensors", as: .f16)
        try SafetensorsWriter.write(tensors, to: dir + "/f32.safetensors")
        let layers: [([String], [[Int]])] = [(["conv.weight"], [[40, 8, 3, 3]]), (["proj.weight"], [[24, 16, 1, 1]]),
                                             (["q.weight", "k.weight"], [[33, 24], [7, 24]])]
        let f16 = try WeightStore(path: dir + "/f16.safetensors"), f32 = try WeightStore(path: dir + "/f32.safetensors")
        for (names, shapes) in layers {
            let a = try f16.packedMatrix(names, shapes: shapes), b = try f32.packedMatrix(names, shapes: shapes)
            #expect(a.rows == b.rows && a.columns == b.columns && a.format == b.format && a.byteCount == b.byteCount)
            #expect(a.unpacked().scalars == b.unpacked().scalars, "\(names)")
        }
        // The stacked rows are q's then k's, each in the file's order; the 3x3 one in (kh, kw, in) order.
        let stacked = try f16.packedMatrix(["q.weight", "k.weight"], shapes: [[33, 24], [7, 24]]).unpacked()
        #expect(stacked.scalars == (try Tensor.concatenateFirstAxis([tensors[2].1, tensors[3].1])).scalars)
        let conv = try f16.packedMatrix(["conv.weight"], shapes: [[40, 8, 3, 3]]).unpacked()
        #expect(conv.scalars == (try Tensor.packConvolutionWeight(tensors[0].1)).scalars)
        try f16.finish()
        do {
            _ = try WeightStore(path: dir + "/f16.safetensors").packedMatrix(["conv.weight"], shapes: [[40, 8, 1, 1]])
            Issue.record("a wrong shape was packed")
        } catch let e as ModelError {
            #expect("\(e)".contains("conv.weight"), "\(e)")
        }
        let lora = try WeightStore(path: dir + "/f16.safetensors")
        let down = randomTensor([2, 24], seed: 5), up = randomTensor([33, 2], seed: 6)
        try lora.addLowRankUpdate(to: "q.weight", down: down, up: up, scale: 0.5)
        let fused = try lora.packedMatrix(["q.weight", "k.weight"], shapes: [[33, 24], [7, 24]]).unpacked()
        let update = try up.linear(weight: down.permuted([1, 0]))
        let q = try tensors[2].1.zipElements(update) { $0 + 0.5 * $1 }
        #expect(fused.scalars == (try Tensor.concatenateFirstAxis([q, tensors[3].1])).scalars)
    }

    /// --weights f16: an F32 file's matrices rounded to the nearest half are packed as the same
    /// file holding the rounded values packs them at `.stored` (values and panel format), a LoRA
    /// update rounded after fusing; an F16 file packs the same at `.f16` as at `.stored`.
    @Test func f16PrecisionPacksTheRoundedMatrices() throws {
        // Compares panel formats of two loads, which follow the kernel variant.
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        let dir = NSTemporaryDirectory() + "weight-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tensors = [("conv.weight", randomTensor([40, 8, 3, 3], seed: 7)), ("q.weight", randomTensor([33, 24], seed: 8)),
                       ("k.weight", randomTensor([7, 24], seed: 9))]
        let rounded = try tensors.map { ($0.0, try Tensor(shape: $0.1.shape, values: $0.1.scalars.map { Float(Float16($0)) })) }
        #expect(tensors[1].1.scalars != rounded[1].1.scalars)
        try SafetensorsWriter.write(tensors, to: dir + "/f32.safetensors")
        try SafetensorsWriter.write(rounded, to: dir + "/rounded.safetensors")
        try SafetensorsWriter.write(tensors, to: dir + "/f16.safetensors", as: .f16)
        let layers: [([String], [[Int]])] = [(["conv.weight"], [[40, 8, 3, 3]]), (["q.weight", "k.weight"], [[33, 24], [7, 24]])]
        let f32 = try WeightStore(path: dir + "/f32.safetensors"), exact = try WeightStore(path: dir + "/rounded.safetensors")
        let f16 = try WeightStore(path: dir + "/f16.safetensors"), f16Stored = try WeightStore(path: dir + "/f16.safetensors")
        f32.precision = .f16
        f16.precision = .f16
        for (names, shapes) in layers {
            let a = try f32.packedMatrix(names, shapes: shapes), b = try exact.packedMatrix(names, shapes: shapes)
            #expect(a.format == b.format && a.byteCount == b.byteCount, "\(names)")
            #expect(a.unpacked().scalars == b.unpacked().scalars, "\(names)")
            let c = try f16.packedMatrix(names, shapes: shapes), d = try f16Stored.packedMatrix(names, shapes: shapes)
            #expect(c.format == d.format && c.unpacked().scalars == d.unpacked().scalars, "\(names)")
            #expect(c.unpacked().scalars == a.unpacked().scalars, "\(names)")
        }
        let lora = try WeightStore(path: dir + "/f32.safetensors")
        lora.precision = .f16
        let down = randomTensor([2, 24], seed: 10), up = randomTensor([33, 2], seed: 11)
        try lora.addLowRankUpdate(to: "q.weight", down: down, up: up, scale: 0.5)
        let fused = try lora.packedMatrix(["q.weight"], shapes: [[33, 24]]).unpacked()
        let update = try up.linear(weight: down.permuted([1, 0]))
        let q = try tensors[1].1.zipElements(update) { $0 + 0.5 * $1 }
        #expect(fused.scalars == q.scalars.map { Float(Float16($0)) })
    }

    /// A weight past the half range with `.f16` (or non-finite with `.int8`) is a ModelError
    /// naming the file, tensor and place; `.stored` takes it.
    @Test func valuesAPrecisionCannotHoldNameTheTensor() throws {
        let dir = NSTemporaryDirectory() + "weight-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var big = randomTensor([8, 4], seed: 12)
        big.mutablePointer()[9] = 70_000
        try SafetensorsWriter.write([("big.weight", big)], to: dir + "/w.safetensors")
        for (precision, value) in [(WeightPrecision.f16, "70000"), (.int8, "")] {
            if precision == .int8 {
                big.mutablePointer()[9] = .infinity
                try SafetensorsWriter.write([("big.weight", big)], to: dir + "/w.safetensors")
            }
            let store = try WeightStore(path: dir + "/w.safetensors")
            store.precision = precision
            do {
                _ = try store.packedMatrix(["big.weight"], shapes: [[8, 4]])
                Issue.record("\(precision): packed")
            } catch let e as ModelError {
                let text = "\(e)"
                #expect(text.contains("w.safetensors") && text.contains("'big.weight'") && text.contains(precision.rawValue), "\(text)")
                if precision == .f16 { #expect(text.contains(value) && text.contains("[2, 1]"), "\(text)") }
            }
        }
        _ = try WeightStore(path: dir + "/w.safetensors").packedMatrix(["big.weight"], shapes: [[8, 4]])
    }
}

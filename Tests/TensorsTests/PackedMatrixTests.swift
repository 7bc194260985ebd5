// Prepacked weights (PackedMatrix): the bytes of the unpacked GEMM, halves chosen only when exact.

import CKernels
import Testing
import TestSupport
@testable import Tensors

@Suite(.serialized) struct PackedMatrixTests {
    /// Values rounded to halves (as an F16 checkpoint's weights are after loading).
    func halves(_ shape: [Int], seed: UInt64) -> Tensor {
        var t = randomTensor(shape, seed: seed)
        let p = t.mutablePointer()
        for i in 0..<t.count { p[i] = Float(Float16(p[i])) }
        return t
    }

    /// linear(packed:) equals linear(weight:) bit for bit with float and half panels, on every
    /// kernel variant and thread count; shapes cross the 32-row panel edge.
    @Test(arguments: [(1, 1, 1), (5, 33, 17), (77, 64, 300), (300, 70, 40), (9, 1280, 600), (260, 100, 520)])
    func packedLinearIsTheUnpackedBytes(rows: Int, outputs: Int, inputs: Int) throws {
        let original = ck_force_path(0)
        defer { _ = ck_force_path(original); Parallelism.setThreadCount(0) }
        let x = randomTensor([rows, inputs], seed: 1), bias = randomTensor([outputs], seed: 2)
        for weight in [halves([outputs, inputs], seed: 3), randomTensor([outputs, inputs], seed: 4)] {
            let packed = try PackedMatrix(weight)
            for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
                Parallelism.setThreadCount(1)
                let reference = try x.linear(weight: weight, bias: bias)
                for threads in [1, 2, 3] {
                    Parallelism.setThreadCount(threads)
                    #expect(bytes(try x.linear(packed: packed, bias: bias)) == bytes(reference),
                            "\(rows)x\(outputs)x\(inputs) half=\(packed.isHalf) path \(path), \(threads) threads")
                    #expect(bytes(try x.linear(packed: packed)) == bytes(try x.linear(weight: weight)))
                }
            }
        }
    }

    @Test func halvesAreStoredOnlyWhenExact() throws {
        let h = halves([40, 24], seed: 5)
        let packedHalf = try PackedMatrix(h)
        #expect(packedHalf.isHalf && packedHalf.byteCount == 64 * 24 * 2)
        #expect(bytes(packedHalf.unpacked()) == bytes(h))
        let f = randomTensor([40, 24], seed: 6)
        let packedFloat = try PackedMatrix(f)
        #expect(!packedFloat.isHalf && packedFloat.byteCount == 64 * 24 * 4)
        #expect(bytes(packedFloat.unpacked()) == bytes(f))
        #expect(!(try PackedMatrix(h, allowHalf: false)).isHalf)
        // One value off a half keeps the whole matrix in floats; -0 and infinities are halves.
        var edge = h
        edge.mutablePointer()[0] = -0.0
        edge.mutablePointer()[1] = .infinity
        #expect(try PackedMatrix(edge).isHalf)
        edge.mutablePointer()[2] = 1 + 1.0 / 4096
        #expect(!(try PackedMatrix(edge)).isHalf)
        #expect(throws: TensorError.self) { try PackedMatrix(randomTensor([2, 3, 4], seed: 7)) }
    }

    /// Convolutions with a prepacked weight (the models' path) equal the Tensor-weight path.
    @Test func packedConvolutionIsTheUnpackedBytes() throws {
        let x = randomTensor([2, 9, 7, 24], seed: 8)
        let w = try Tensor.packConvolutionWeight(halves([40, 24, 3, 3], seed: 9))
        let packed = try PackedMatrix(try w.reshaped([40, 9 * 24]))
        #expect(packed.isHalf)
        for (stride, pad) in [(1, 1), (2, 1), (1, 0)] {
            let padding = (top: pad, left: pad, bottom: pad, right: pad)
            let a = try x.conv2d(packedWeight: w, bias: nil, stride: stride, padding: padding)
            let b = try x.conv2d(weight: packed, kernel: 3, bias: nil, stride: stride, padding: padding)
            #expect(bytes(a) == bytes(b), "stride \(stride) padding \(pad)")
        }
        #expect(throws: TensorError.self) { try x.conv2d(weight: packed, kernel: 1, bias: nil, stride: 1, padding: (0, 0, 0, 0)) }
    }
}

// Prepacked weights (PackedMatrix): the bytes of the unpacked GEMM, halves chosen only when exact,
// int8 quantized per row as stated.

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
    /// kernel variant and thread count; shapes cross the 32-row panel edge, and (40, 96, 300) is
    /// wider than tall yet split by rows (prepacked weights); (260, 100, 520) and (450, 70, 300)
    /// have several row blocks and k blocks in one part (the panels' row-block-outer order);
    /// (200, 1400, 280) also several groups of columns per row block (`panel_columns_group`);
    /// with halves, (260, 100, 520) takes three spans of depth widened one k block at a time, and
    /// (800, 64, 600) and (800, 700, 40), with many row blocks, spans of 256 (3) and column groups
    /// (2), the widening budget made small for them (`ck_widened_span_floats`). Half panels of one
    /// row block are read as halves by AVX-512 tiles: (14, 50, 70) ends on an 18-column panel and
    /// (7, 20, 33) is one 20-column panel (both across the 16-column narrow-tile edge).
    @Test(arguments: [(1, 1, 1), (5, 33, 17), (77, 64, 300), (300, 70, 40), (9, 1280, 600), (260, 100, 520), (40, 96, 300),
                      (450, 70, 300), (200, 1400, 280), (800, 64, 600), (800, 700, 40), (14, 50, 70), (7, 20, 33)])
    func packedLinearIsTheUnpackedBytes(rows: Int, outputs: Int, inputs: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        let budget = ck_widened_span_floats(16_384)
        defer { _ = ck_widened_span_floats(budget); Parallelism.setThreadCount(0) }
        let x = randomTensor([rows, inputs], seed: 1), bias = randomTensor([outputs], seed: 2)
        let residual = randomTensor([rows, outputs], seed: 5)
        for weight in [halves([outputs, inputs], seed: 3), randomTensor([outputs, inputs], seed: 4)] {
            let packed = try PackedMatrix(weight, halfMinimumCount: 0)
            for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
                Parallelism.setThreadCount(1)
                let reference = try x.linear(weight: weight, bias: bias)
                var withResidual = residual
                try withResidual.add(reference)
                // Both products put the bias and residual in per cache block: check them against
                // the plain chain started from the bias rows, the residual added after.
                var chain = Tensor(shape: [rows, outputs], repeating: 0)
                let cp = chain.mutablePointer()
                for r in 0..<rows { (cp + r * outputs).update(from: bias.pointer, count: outputs) }
                GEMM.chain(m: rows, n: outputs, k: inputs, a: x.pointer, lda: inputs, b: weight.pointer, ldb: inputs,
                           transposeB: true, c: cp, ldc: outputs, beta: 1)
                #expect(bytes(reference) == bytes(chain), "\(rows)x\(outputs)x\(inputs) path \(path): bias rows")
                try chain.add(residual)
                #expect(bytes(withResidual) == bytes(chain))
                for threads in [1, 2, 3] {
                    Parallelism.setThreadCount(threads)
                    #expect(bytes(try x.linear(packed: packed, bias: bias)) == bytes(reference),
                            "\(rows)x\(outputs)x\(inputs) half=\(packed.isHalf) path \(path), \(threads) threads")
                    #expect(bytes(try x.linear(packed: packed)) == bytes(try x.linear(weight: weight)))
                    // The residual added inside the product: the bytes of residual.add(linear).
                    #expect(bytes(try x.linear(packed: packed, bias: bias, adding: residual)) == bytes(withResidual))
                    var fused = Tensor(shape: [rows, outputs], repeating: 0)
                    GEMM.multiply(m: rows, n: outputs, k: inputs, a: x.pointer, lda: inputs, b: weight.pointer, ldb: inputs,
                                  transposeB: true, c: fused.mutablePointer(), ldc: outputs, bias: bias.pointer,
                                  residual: residual.pointer)
                    #expect(bytes(fused) == bytes(withResidual), "unpacked fused, path \(path), \(threads) threads")
                }
            }
        }
    }

    @Test func residualOfAnotherShapeIsAnError() throws {
        let packed = try PackedMatrix(randomTensor([8, 16], seed: 1))
        let x = randomTensor([4, 16], seed: 2)
        #expect(throws: TensorError.self) { try x.linear(packed: packed, adding: randomTensor([4, 9], seed: 3)) }
        #expect(throws: TensorError.self) { try x.linear(packed: packed, bias: randomTensor([7], seed: 3)) }
    }

    @Test func halvesAreStoredOnlyWhenExact() throws {
        let h = halves([40, 24], seed: 5)
        let packedHalf = try PackedMatrix(h, halfMinimumCount: 0)
        #expect(packedHalf.isHalf && packedHalf.byteCount == 64 * 24 * 2)
        #expect(bytes(packedHalf.unpacked()) == bytes(h))
        let f = randomTensor([40, 24], seed: 6)
        let packedFloat = try PackedMatrix(f)
        #expect(!packedFloat.isHalf && packedFloat.byteCount == 64 * 24 * 4)
        #expect(bytes(packedFloat.unpacked()) == bytes(f))
        #expect(!(try PackedMatrix(h, halfMinimumCount: .max)).isHalf)
        // One value off a half keeps the whole matrix in floats; -0 and infinities are halves.
        var edge = h
        edge.mutablePointer()[0] = -0.0
        edge.mutablePointer()[1] = .infinity
        #expect(try PackedMatrix(edge, halfMinimumCount: 0).isHalf)
        edge.mutablePointer()[2] = 1 + 1.0 / 4096
        #expect(!(try PackedMatrix(edge, halfMinimumCount: 0)).isHalf)
        // By default small matrices stay floats (same bits) unless the AVX-512 kernels run, which
        // read small half panels as halves; large ones of halves are halves everywhere.
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
            #expect(try PackedMatrix(halves([64, 4095], seed: 10)).isHalf == (path == 3), "path \(path)")
            #expect(try PackedMatrix(halves([64, 4096], seed: 10)).isHalf, "path \(path)")
        }
        #expect(throws: TensorError.self) { try PackedMatrix(randomTensor([2, 3, 4], seed: 7)) }
    }

    /// Panels packed straight from halves (an F16 file's bytes) are byte for byte those of
    /// widening, repacking each convolution weight [Cout, Cin, kh, kw] to [Cout, kh, kw, Cin],
    /// concatenating and packing: stacked blocks crossing the 32-row panel edge, 1x1 and 3x3
    /// taps, odd widths, half and float panels (padding rows included).
    @Test(arguments: [([5], 24, 1), ([33, 7, 40], 17, 1), ([40], 72, 9), ([70, 3], 45, 9), ([1], 9, 9)])
    func panelsFromHalvesAreThoseOfTheWidenedMatrix(blockRows: [Int], columns: Int, taps: Int) throws {
        let sources = blockRows.enumerated().map { halves([$0.element, columns], seed: UInt64(20 + $0.offset)) }
        let matrices = try sources.map { t -> Tensor in
            guard taps > 1 else { return t }
            let conv = try Tensor.packConvolutionWeight(t.reshaped([t.shape[0], columns / taps, 3, 3]))
            return try conv.reshaped([t.shape[0], columns])
        }
        let reference = matrices.count == 1 ? matrices[0] : try Tensor.concatenateFirstAxis(matrices)
        let bits = sources.flatMap { t in (0..<t.count).map { Float16(t.pointer[$0]).bitPattern } }
        try bits.withUnsafeBytes { raw in
            let base = try #require(raw.baseAddress)
            var offset = 0, blocks: [(halves: UnsafeRawPointer, rows: Int)] = []
            for rows in blockRows {
                blocks.append((base + 2 * offset, rows))
                offset += rows * columns
            }
            for minimum in [0, Int.max] {
                let expected = try PackedMatrix(reference, halfMinimumCount: minimum)
                let packed = try PackedMatrix(rows: reference.shape[0], columns: columns, taps: taps, halfBlocks: blocks,
                                              halfMinimumCount: minimum)
                #expect(packed.format == expected.format && packed.format == (minimum == 0 ? .half : .float))
                #expect(packed.byteCount == expected.byteCount)
                #expect(Array(UnsafeRawBufferPointer(start: packed.storage.raw, count: packed.byteCount))
                    == Array(UnsafeRawBufferPointer(start: expected.storage.raw, count: expected.byteCount)),
                    "\(blockRows) x \(columns), \(taps) taps, \(packed.format)")
            }
            #expect(throws: TensorError.self) { try PackedMatrix(rows: 3, columns: 10, taps: 9, halfBlocks: [(base, 3)]) }
            #expect(throws: TensorError.self) { try PackedMatrix(rows: 4, columns: columns, taps: taps, halfBlocks: [(base, 3)]) }
        }
    }

    /// int8 panels: the GEMM multiplies by the dequantized W (`unpacked()`), bit for bit on every
    /// kernel variant and thread count; shapes cross the panel edge and the 256-deep k block, and
    /// (14, 50, 70) ends on an 18-column panel (AVX-512 tiles read int8 panels of one row block
    /// as stored).
    @Test(arguments: [(1, 1, 1), (5, 33, 17), (77, 64, 300), (300, 70, 40), (13, 96, 520), (14, 50, 70)])
    func int8LinearIsItsDequantizedBytes(rows: Int, outputs: Int, inputs: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        let x = randomTensor([rows, inputs], seed: 11), bias = randomTensor([outputs], seed: 12)
        let packed = try PackedMatrix(randomTensor([outputs, inputs], seed: 13), precision: .int8)
        #expect(packed.format == .int8)
        let dequantized = packed.unpacked()
        for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
            Parallelism.setThreadCount(1)
            #expect(bytes(packed.unpacked()) == bytes(dequantized), "widening on path \(path)")
            let reference = try x.linear(weight: dequantized, bias: bias)
            for threads in [1, 2, 3] {
                Parallelism.setThreadCount(threads)
                #expect(bytes(try x.linear(packed: packed, bias: bias)) == bytes(reference),
                        "\(rows)x\(outputs)x\(inputs) int8 path \(path), \(threads) threads")
            }
        }
    }

    /// Per-row symmetric quantization as documented: scale = max|w| / 127, q = w / scale rounded
    /// to nearest even, so every value is within scale / 2 and the row's extreme is exact up to
    /// one rounding; zero rows stay zero; a non-finite weight is an error.
    @Test func int8QuantizesEachRowSymmetrically() throws {
        var w = randomTensor([40, 24], seed: 14)
        let p = w.mutablePointer()
        for j in 0..<24 { p[3 * 24 + j] = 0 }           // a zero row
        for j in 0..<24 { p[5 * 24 + j] *= 1e-3 }       // a small row keeps its own scale
        let packed = try PackedMatrix(w, precision: .int8)
        #expect(packed.byteCount == 64 * (4 + 24))
        let back = packed.unpacked()
        for i in 0..<40 {
            let row = (0..<24).map { w.pointer[i * 24 + $0] }
            let scale = (row.map { abs($0) }.max() ?? 0) / 127
            for j in 0..<24 {
                let q = scale > 0 ? (row[j] / scale).rounded(.toNearestOrEven) : 0
                #expect(back.pointer[i * 24 + j] == q * scale, "row \(i) column \(j)")
                #expect(abs(back.pointer[i * 24 + j] - row[j]) <= scale / 2 * 1.0001, "row \(i) column \(j)")
            }
        }
        #expect((0..<24).allSatisfy { back.pointer[3 * 24 + $0] == 0 })
        p[7] = .nan
        #expect(throws: TensorError.self) { try PackedMatrix(w, precision: .int8) }
        p[7] = .infinity
        #expect(throws: TensorError.self) { try PackedMatrix(w, precision: .int8) }
    }

    /// `.f16`: every value rounded to the nearest half (ties to even, Swift's Float16 rounding),
    /// held as half panels from `halfMinimumCount` values and as floats of the rounded values
    /// below it, the GEMM's bytes those of the rounded W at every thread count; exact halves are
    /// held as `.stored` holds them; a value no finite half approximates is an error naming
    /// its place (65,519 rounds to 65,504, 65,520 overflows).
    @Test func f16RoundsEveryValueToTheNearestHalf() throws {
        defer { Parallelism.setThreadCount(0) }
        var w = randomTensor([45, 70], seed: 21)
        let p = w.mutablePointer()
        p[3] = 65_519
        p[4] = -1e-8  // below the smallest subnormal half's half: rounds to -0
        p[5] = 3.0e-6  // a subnormal half
        let rounded = try Tensor(shape: w.shape, values: w.scalars.map { Float(Float16($0)) })
        #expect(rounded.pointer[3] == 65_504 && rounded.pointer[4].sign == .minus && rounded.pointer[4] == 0)
        let x = randomTensor([9, 70], seed: 22)
        for minimum in [0, Int.max] {
            let packed = try PackedMatrix(w, precision: .f16, halfMinimumCount: minimum)
            #expect(packed.format == (minimum == 0 ? .half : .float))
            let same = bytes(packed.unpacked()) == bytes(rounded)
            #expect(same, "minimum \(minimum): the panels are not the rounded values")
            Parallelism.setThreadCount(1)
            let reference = try x.linear(weight: rounded)
            for threads in [1, 2, 3] {
                Parallelism.setThreadCount(threads)
                #expect(bytes(try x.linear(packed: packed)) == bytes(reference), "minimum \(minimum), \(threads) threads")
            }
        }
        let exact = halves([40, 24], seed: 23)
        #expect(bytes(try PackedMatrix(exact, precision: .f16, halfMinimumCount: 0).unpacked())
                == bytes(try PackedMatrix(exact, halfMinimumCount: 0).unpacked()))
        for bad: Float in [65_520, -70_000, .infinity, .nan] {
            p[46] = bad
            do {
                _ = try PackedMatrix(w, precision: .f16)
                Issue.record("\(bad) was packed as a half")
            } catch {
                #expect("\(error)".contains("[0, 46]") && "\(error)".contains("f16"), "\(error)")
            }
        }
    }

    /// Convolutions with a prepacked weight (the models' path) equal the Tensor-weight path.
    @Test func packedConvolutionIsTheUnpackedBytes() throws {
        let x = randomTensor([2, 9, 7, 24], seed: 8)
        let w = try Tensor.packConvolutionWeight(halves([40, 24, 3, 3], seed: 9))
        let packed = try PackedMatrix(try w.reshaped([40, 9 * 24]), halfMinimumCount: 0)
        #expect(packed.isHalf)
        for (stride, pad) in [(1, 1), (2, 1), (1, 0)] {
            let padding = (top: pad, left: pad, bottom: pad, right: pad)
            let a = try x.conv2d(packedWeight: w, bias: nil, stride: stride, padding: padding)
            let b = try x.conv2d(weight: packed, kernel: 3, bias: nil, stride: stride, padding: padding)
            #expect(bytes(a) == bytes(b), "stride \(stride) padding \(pad)")
            // im2col + GEMM with the residual added inside each part, at 1 to 3 threads.
            let bias = randomTensor([40], seed: 10), residual = randomTensor(b.shape, seed: 11)
            var separate = residual
            try separate.add(try x.conv2d(weight: packed, kernel: 3, bias: bias, stride: stride, padding: padding))
            for threads in [1, 2, 3] {
                Parallelism.setThreadCount(threads)
                let fused = try x.conv2d(weight: packed, kernel: 3, bias: bias, stride: stride, padding: padding,
                                         algorithm: .im2col, adding: residual)
                #expect(bytes(fused) == bytes(separate), "stride \(stride) padding \(pad), \(threads) threads")
            }
            Parallelism.setThreadCount(0)
            #expect(throws: TensorError.self) {
                try x.conv2d(weight: packed, kernel: 3, bias: nil, stride: stride, padding: padding, adding: x)
            }
        }
        #expect(throws: TensorError.self) { try x.conv2d(weight: packed, kernel: 1, bias: nil, stride: 1, padding: (0, 0, 0, 0)) }
    }
}

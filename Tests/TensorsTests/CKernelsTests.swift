// The vectorised C kernels against libm / the Double reference, and their instruction-set
// variants against each other: they must give the same bits (no FMA contraction, fixed-lane sums).

import CKernels
import Foundation
import Testing
import TestSupport
@testable import Tensors

@Suite(.serialized) struct CKernelsTests {
    /// The kernels' exp (Cephes's polynomial in fused multiply-adds) within 2 float ulps (relative 2.4e-7) of exp in Double over the useful range.
    @Test func expMatchesLibm() {
        let xs = stride(from: Float(-87.0), through: 88.0, by: 0.0137).map { $0 } + [0, -0, 1, -1, 1e-8, -1e-8]
        var ys = [Float](repeating: .nan, count: xs.count)
        ck_exp(xs, &ys, Int64(xs.count))
        var worst: Double = 0
        for (x, y) in zip(xs, ys) {
            let exact = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(y) - exact) / exact)
        }
        #expect(worst <= 2.4e-7, "max relative error \(worst)")
        #expect(ys[xs.count - 6] == 1 && ys[xs.count - 5] == 1)
    }

    /// ck_widen_halves (weights read from F16 files) equals Swift's Float(Float16) on all 65,536
    /// halves (NaNs as NaNs), from an odd byte offset too.
    @Test func wideningHalvesIsExactForEveryHalf() {
        let halves = (0...UInt16.max).map { $0 }
        var bytes = [UInt8](repeating: 0, count: 1 + 2 * halves.count)
        for (i, h) in halves.enumerated() { (bytes[1 + 2 * i], bytes[2 + 2 * i]) = (UInt8(h & 0xff), UInt8(h >> 8)) }
        var floats = [Float](repeating: 0, count: halves.count)
        bytes.withUnsafeBytes { raw in ck_widen_halves(raw.baseAddress! + 1, &floats, Int64(halves.count)) }
        var wrong = 0
        for (h, f) in zip(halves, floats) {
            let expected = Float(Float16(bitPattern: h))
            if expected.isNaN ? !f.isNaN : expected.bitPattern != f.bitPattern { wrong += 1 }
        }
        #expect(wrong == 0, "\(wrong) halves widened wrongly")
    }

    @Test func expUnderflowsToZero() {
        let xs: [Float] = [-.infinity, -1000, -88.5, -100]
        var ys = [Float](repeating: .nan, count: xs.count)
        ck_exp(xs, &ys, Int64(xs.count))
        #expect(ys == [0, 0, 0, 0])
    }

    /// The layer-norm kernel (rows summed side by side) equals a row at a time in Swift, the
    /// computation it replaced, bit for bit: row counts around the 8-row group, channel counts
    /// of the models, with and without the affine parameters, on every variant and thread count.
    @Test func layerNormEqualsTheRowAtATimeLoop() throws {
        func rowAtATime(_ x: Tensor, _ gamma: Tensor?, _ beta: Tensor?, _ epsilon: Float) -> [UInt32] {
            let c = x.shape[x.rank - 1], s0 = x.pointer
            var out = [Float](repeating: 0, count: x.count)
            for r in 0..<(x.count / c) {
                let s = s0 + r * c
                var sum = 0.0
                for j in 0..<c { sum += Double(s[j]) }
                let m = sum / Double(c)
                var sq = 0.0
                for j in 0..<c { let v = Double(s[j]) - m; sq += v * v }
                let rs = Float(1 / (sq / Double(c) + Double(epsilon)).squareRoot())
                let mf = Float(m)
                for j in 0..<c { out[r * c + j] = (s[j] - mf) * rs * (gamma?.pointer[j] ?? 1) + (beta?.pointer[j] ?? 0) }
            }
            return out.map(\.bitPattern)
        }
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        defer { Parallelism.setThreadCount(0) }
        for (rows, c) in [(1, 1), (7, 3), (8, 64), (9, 128), (17, 320), (77, 128), (40, 768)] {
            let x = randomTensor([rows, c], seed: UInt64(rows * c), range: -6...6)
            let g = randomTensor([c], seed: 2), b = randomTensor([c], seed: 3)
            for (gamma, beta) in [(g, b), (nil, nil)] as [(Tensor?, Tensor?)] {
                let expected = rowAtATime(x, gamma, beta, 1e-5)
                for path: Int32 in [1, 2, 3] {
                    guard ck_force_path(path) >= 0 else { continue }
                    for threads in [1, 3] {
                        Parallelism.setThreadCount(threads)
                        let y = try x.layerNorm(weight: gamma, bias: beta, epsilon: 1e-5)
                        #expect(bytes(y) == expected, "\(rows)x\(c), variant \(path), \(threads) threads, affine \(gamma != nil)")
                    }
                }
            }
        }
    }

    /// The softmax (rows finished four at a time) equals itself a row at a time bit for bit (the
    /// rows' chains do not mix), for row counts around the group of four and lengths around the
    /// 16 lanes, with -inf, on every variant.
    @Test func softmaxRowsSideBySideEqualARowAtATime() {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        for n in [1, 3, 16, 17, 77, 81, 256, 1000] {
            for rows in [1, 3, 4, 5, 9] {
                let x = randomTensor([rows, n], seed: UInt64(rows * 1000 + n), range: -30...30)
                var input = Array(UnsafeBufferPointer(start: x.pointer, count: x.count))
                if n > 2 { input[n / 2] = -.infinity }
                for path: Int32 in [1, 2, 3] {
                    guard ck_force_path(path) >= 0 else { continue }
                    var expected = input
                    for r in 0..<rows {
                        expected.withUnsafeMutableBufferPointer { ck_softmax_rows($0.baseAddress! + r * n, 1, Int64(n), Int64(n)) }
                    }
                    var y = input
                    ck_softmax_rows(&y, Int64(rows), Int64(n), Int64(n))
                    #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(rows) rows of \(n), variant \(path)")
                }
            }
        }
    }

    /// The online kernel (its own exp: fused multiply-adds) over chunks of a row, from an
    /// empty state, then x * rescale of later chunks and / sum as the attention does: within
    /// 4e-7 relative (plus 1e-12 absolute, for outputs that underflow) of the Double softmax,
    /// the same bits on every variant, and a row of -inf
    /// but one value gives exactly 1 there.
    @Test func onlineSoftmaxMatchesTheDoubleSoftmax() {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        for n in [1, 17, 300, 1030] {
            let x = randomTensor([n], seed: UInt64(n), range: -60...30)
            var input = Array(UnsafeBufferPointer(start: x.pointer, count: n))
            if n > 2 { input[1] = -.infinity }
            let top = input.map(Double.init).max()!
            let exps = input.map { Foundation.exp(Double($0) - top) }
            let total = exps.reduce(0, +)
            var results: [[UInt32]] = []
            for path: Int32 in [1, 2, 3] {
                guard ck_force_path(path) >= 0 else { continue }
                var y = input, m = -Float.infinity, sum: Float = 0, rescale: Float = 0
                let chunk = 512
                for c0 in stride(from: 0, to: n, by: chunk) {
                    let cn = min(chunk, n - c0)
                    y.withUnsafeMutableBufferPointer { ck_online_softmax_rows($0.baseAddress! + c0, 1, Int64(cn), Int64(cn), &m, &sum, &rescale) }
                    for j in 0..<c0 { y[j] *= rescale }
                }
                for j in 0..<n { y[j] /= sum }
                for j in 0..<n {
                    let want = exps[j] / total
                    #expect(abs(Double(y[j]) - want) <= 4e-7 * want + 1e-12, "n \(n) [\(j)] \(y[j]) vs \(want), variant \(path)")
                }
                results.append(y.map(\.bitPattern))
            }
            #expect(Set(results).count == 1, "n \(n): variants differ")
        }
        var one: [Float] = [-.infinity, 3, -.infinity], m = -Float.infinity, sum: Float = 0, rescale: Float = 0
        ck_online_softmax_rows(&one, 1, 3, 3, &m, &sum, &rescale)
        #expect(one == [0, 1, 0] && sum == 1 && m == 3)
    }

    /// The online softmax on a chunk held transposed as GEMM panels (attention's layout) gives the
    /// row kernel's bits on the untransposed chunk, on every variant: queries filling a panel or
    /// not (lanes past them hold finite junk), key counts around the 16-key partial sums, -inf
    /// and -0 scores, a first chunk (running max -inf) and a later one.
    @Test(arguments: [(1, 1), (5, 17), (16, 512), (37, 300), (100, 1030), (128, 512)])
    func panelSoftmaxIsTheRowKernelBits(queries: Int, keys: Int) throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        let panel = Int(CK_PANEL), padded = (queries + panel - 1) / panel * panel
        let scores = randomTensor([padded * keys], seed: UInt64(queries * 7 + keys), range: -12...6)
        var panels = Array(UnsafeBufferPointer(start: scores.pointer, count: scores.count))
        for i in stride(from: 3, to: panels.count, by: 41) { panels[i] = -.infinity }
        for i in stride(from: 5, to: panels.count, by: 97) { panels[i] = -0.0 }
        func at(_ q: Int, _ p: Int) -> Int { q / panel * panel * keys + p * panel + q % panel }
        var rows = [Float](repeating: 0, count: queries * keys)
        for q in 0..<queries { for p in 0..<keys { rows[q * keys + p] = panels[at(q, p)] } }
        for later in [false, true] {
            let stats = randomTensor([2, padded], seed: 9, range: 0...3)
            let startMax = later ? Array(UnsafeBufferPointer(start: stats.pointer, count: padded))
                                 : [Float](repeating: -.infinity, count: padded)
            let startSum = later ? Array(UnsafeBufferPointer(start: stats.pointer + padded, count: padded))
                                 : [Float](repeating: 0, count: padded)
            var want = rows, wantMax = startMax, wantSum = startSum, wantRescale = [Float](repeating: 0, count: padded)
            _ = ck_force_path(1)
            ck_online_softmax_rows(&want, Int64(queries), Int64(keys), Int64(keys), &wantMax, &wantSum, &wantRescale)
            for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
                var got = panels, gotMax = startMax, gotSum = startSum, gotRescale = [Float](repeating: 0, count: padded)
                ck_online_softmax_panels(&got, Int64(queries), Int64(keys), &gotMax, &gotSum, &gotRescale)
                var same = true
                for q in 0..<queries {
                    for p in 0..<keys where got[at(q, p)].bitPattern != want[q * keys + p].bitPattern { same = false }
                    same = same && gotMax[q].bitPattern == wantMax[q].bitPattern && gotSum[q].bitPattern == wantSum[q].bitPattern
                        && gotRescale[q].bitPattern == wantRescale[q].bitPattern
                }
                #expect(same, "\(queries) queries, \(keys) keys, later chunk \(later), variant \(path)")
            }
        }
    }

    /// Every variant the CPU has gives the same bits as the portable one, for row lengths around
    /// the 16-lane boundary and rows holding -inf (causal masking).
    @Test func variantsGiveIdenticalBits() throws {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        for n in [1, 3, 15, 16, 17, 31, 77, 256, 1000] {
            var x = randomTensor([5, n], seed: UInt64(n), range: -30...30)
            let p = x.mutablePointer()
            for r in 0..<5 where n > 2 { p[r * n + (r % n)] = -.infinity }
            var results: [[Float]] = []
            for path: Int32 in [1, 2, 3] {
                guard ck_force_path(path) >= 0 else { continue }
                var y = Array(UnsafeBufferPointer(start: x.pointer, count: x.count))
                ck_softmax_rows(&y, 5, Int64(n), Int64(n))
                results.append(y)
            }
            #expect(results.count >= 1)
            for other in results.dropFirst() {
                #expect(other.map(\.bitPattern) == results[0].map(\.bitPattern), "n \(n): variants differ")
            }
            let reference = Reference.softmax(x)
            let fast = try Tensor(shape: [5, n], values: results[0])
            #expect(try relativeError(fast, reference) <= 1e-6, "n \(n)")
        }
    }
}

@Suite struct CKernelsErfTests {
    /// The rational erf within 4e-7 absolute (about 3 float ulps near 1) of erf in Double on
    /// [-6, 6], saturating to +-1 past 4.
    @Test func erfMatchesLibm() {
        let xs = stride(from: Float(-6), through: 6, by: 0.00123).map { $0 } + [0, 4, -4, 1e-6]
        var ys = [Float](repeating: .nan, count: xs.count)
        ck_erf(xs, &ys, Int64(xs.count))
        var worst: Double = 0
        for (x, y) in zip(xs, ys) { worst = max(worst, abs(Double(y) - erf(Double(x)))) }
        #expect(worst <= 4e-7, "max absolute error \(worst)")
        #expect(ys[xs.count - 4] == 0)
    }

    /// GEGLU rows equal h * gelu(g) computed in Double, for widths around the vector lengths:
    /// within 1e-6 relative plus erf's 4e-7 scaled by |h g| / 2.
    @Test(arguments: [1, 7, 16, 33, 320])
    func gegluMatchesDouble(d: Int) {
        let rows = 3
        let x = randomTensor([rows, 2 * d], seed: UInt64(d), range: -5...5)
        var y = [Float](repeating: .nan, count: rows * d)
        ck_geglu_rows(x.pointer, &y, Int64(rows), Int64(d))
        var worst: Double = 0
        for r in 0..<rows {
            for j in 0..<d {
                let h = Double(x.pointer[r * 2 * d + j]), g = Double(x.pointer[r * 2 * d + d + j])
                let expected = h * 0.5 * g * (1 + erf(g / 2.0.squareRoot()))
                let bound = 1e-6 * max(1, abs(expected)) + 4e-7 * abs(h * g) / 2
                worst = max(worst, abs(Double(y[r * d + j]) - expected) / bound)
            }
        }
        #expect(worst <= 1, "d \(d): error \(worst) of the bound")
    }
}

@Suite(.serialized) struct CKernelsGroupStatsTests {
    /// A group's statistics are the same bits whether it shares the call with other groups or
    /// not, and on every instruction-set variant; they match the mean and 1/sqrt(var + eps) in Double.
    @Test func groupStatsIndependentOfChunkingAndVariant() throws {
        let (positions, c, per) = (37, 96, 3)
        let groups = c / per
        let x = randomTensor([positions, c], seed: 77, range: -3...5)
        func stats(_ ranges: [(Int, Int)]) -> [Float] {
            var mean = [Float](repeating: .nan, count: groups), rstd = mean
            for (g0, g1) in ranges {
                let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 2 * (g1 - g0) * per)
                defer { scratch.deallocate() }
                mean.withUnsafeMutableBufferPointer { m in
                    rstd.withUnsafeMutableBufferPointer { r in
                        ck_group_stats(x.pointer, Int64(positions), Int64(c), Int64(per), Int64(g0), Int64(g1), 1e-5,
                                       scratch, m.baseAddress! + g0, r.baseAddress! + g0)
                    }
                }
            }
            return mean + rstd
        }
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        var results: [[Float]] = []
        for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 {
            results.append(stats([(0, groups)]))
            results.append(stats([(0, 5), (5, 6), (6, groups)]))
        }
        for r in results.dropFirst() { #expect(r.map(\.bitPattern) == results[0].map(\.bitPattern)) }
        for g in 0..<groups {
            var values: [Double] = []
            for p in 0..<positions { for j in 0..<per { values.append(Double(x.pointer[p * c + g * per + j])) } }
            let m = values.reduce(0, +) / Double(values.count)
            let v = values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(values.count)
            #expect(abs(Double(results[0][g]) - m) <= 1e-6 * max(1, abs(m)))
            #expect(abs(Double(results[0][groups + g]) - 1 / (v + 1e-5).squareRoot()) <= 1e-6)
        }
    }
}

@Suite(.serialized) struct CKernelsElementwiseVariantTests {
    /// Runs `kernel` on every variant the CPU has and returns each result.
    func onEveryVariant(_ kernel: () -> [Float]) -> [[Float]] {
        let variant = KernelVariantLock.hold(); defer { variant.release() }
        var results: [[Float]] = []
        for path: Int32 in [1, 2, 3] where ck_force_path(path) >= 0 { results.append(kernel()) }
        return results
    }

    /// exp, SiLU, erf and GEGLU give the same bits on the portable, AVX2 and AVX-512 variants,
    /// for lengths around the 4/8/16-lane boundaries and values past the clamps (+-4 for erf,
    /// -88 for exp), with SiLU also in place.
    @Test(arguments: [1, 3, 7, 8, 9, 15, 16, 17, 33, 100, 1027])
    func elementwiseVariantsGiveIdenticalBits(n: Int) throws {
        let x = randomTensor([n], seed: UInt64(1000 + n), range: -95...90).scalars
        let small = randomTensor([n], seed: UInt64(2000 + n), range: -6...6).scalars
        let kernels: [(String, () -> [Float])] = [
            ("exp", { var y = [Float](repeating: .nan, count: n); ck_exp(x, &y, Int64(n)); return y }),
            ("silu", { var y = [Float](repeating: .nan, count: n); ck_silu(small, &y, Int64(n)); return y }),
            ("silu in place", { var y = small; y.withUnsafeMutableBufferPointer { ck_silu($0.baseAddress, $0.baseAddress, Int64(n)) }; return y }),
            ("erf", { var y = [Float](repeating: .nan, count: n); ck_erf(small, &y, Int64(n)); return y }),
            ("geglu", {
                let rows = 2
                let h = randomTensor([rows, 2 * n], seed: UInt64(3000 + n), range: -6...6)
                var y = [Float](repeating: .nan, count: rows * n)
                ck_geglu_rows(h.pointer, &y, Int64(rows), Int64(n))
                return y
            }),
        ]
        for (name, kernel) in kernels {
            let results = onEveryVariant(kernel)
            #expect(!results.isEmpty)
            #expect(!results[0].contains { $0.isNaN }, "\(name) n \(n): NaN")
            for other in results.dropFirst() {
                #expect(other.map(\.bitPattern) == results[0].map(\.bitPattern), "\(name) n \(n): variants differ")
            }
        }
        // SiLU against its Double reference twin.
        var y = [Float](repeating: .nan, count: n)
        ck_silu(small, &y, Int64(n))
        let expected = Reference.silu(try Tensor(shape: [n], values: small))
        #expect(try relativeError(Tensor(shape: [n], values: y), expected) <= 1e-6, "silu n \(n)")
    }
}

// Group normalisation over NHWC feature maps, layer normalisation over the last axis, and
// softmax over the last axis. Statistics are accumulated in Double (two passes), which keeps
// results within a few ulps of PyTorch's float kernels.

import CKernels
import Foundation

extension Tensor {
    /// torch `nn.GroupNorm(groups, C, eps)` on [N, ..., C] (channels last): statistics per
    /// sample and group over all positions and the group's C/groups channels. With `silu`
    /// the activation is fused (x * sigmoid(x) after the affine transform).
    public func groupNorm(groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float, silu: Bool = false) throws -> Tensor {
        try Profiler.measure("groupnorm") {
            guard rank >= 2, let c = shape.last else {
                throw TensorError.invalidShape("groupNorm needs [N, ..., C], got \(shape)")
            }
            guard groups > 0, c % groups == 0 else {
                throw TensorError.invalidArgument("groupNorm: \(c) channels not divisible by \(groups) groups")
            }
            if let weight, weight.shape != [c] { throw TensorError.shapeMismatch("groupNorm weight \(weight.shape) for \(c) channels") }
            if let bias, bias.shape != [c] { throw TensorError.shapeMismatch("groupNorm bias \(bias.shape) for \(c) channels") }
            let n = shape[0]
            if count == 0 { return Tensor(zeros: shape) }
            let positions = count / (n * c)
            let per = c / groups
            var mean = [Float](repeating: 0, count: n * groups)
            var rstd = [Float](repeating: 0, count: n * groups)
            let src = pointer
            // Tasks: (sample, contiguous chunk of groups); a group's statistics do not depend on the
            // chunking (see ck_group_stats), so neither do the bytes on the thread count.
            // Maps under 32k values (the default model's batch-1 16x16x64) stay on one thread:
            // split, the two parallel loops cost more than they saved (4-step image, 2 threads).
            let small = count < 32_768
            let chunks = small ? 1 : min(groups, max(1, Parallelism.threadCount))
            mean.withUnsafeMutableBufferPointer { meanBuffer in
                rstd.withUnsafeMutableBufferPointer { rstdBuffer in
                    let mp = meanBuffer.baseAddress!, rp = rstdBuffer.baseAddress!
                    Parallelism.forEach(n * chunks) { task in
                        let b = task / chunks, k = task % chunks
                        let g0 = groups * k / chunks, g1 = groups * (k + 1) / chunks
                        guard g0 < g1 else { return }
                        let scratch = UnsafeMutablePointer<Double>.allocate(capacity: 2 * (g1 - g0) * per)
                        defer { scratch.deallocate() }
                        ck_group_stats(src + b * positions * c, Int64(positions), Int64(c), Int64(per), Int64(g0), Int64(g1),
                                       epsilon, scratch, mp + b * groups + g0, rp + b * groups + g0)
                    }
                }
            }
            // Per sample and channel: y = x * scale + shift, scale = rstd * gamma, shift = beta - mean * scale.
            var scale = [Float](repeating: 0, count: n * c), shift = [Float](repeating: 0, count: n * c)
            let gamma = weight?.pointer, betaP = bias?.pointer
            for b in 0..<n {
                for ch in 0..<c {
                    let t = b * groups + ch / per
                    let s = rstd[t] * (gamma?[ch] ?? 1)
                    scale[b * c + ch] = s
                    shift[b * c + ch] = (betaP?[ch] ?? 0) - mean[t] * s
                }
            }
            var out = Tensor(uninitialized: shape)
            let dst = out.mutablePointer()
            scale.withUnsafeBufferPointer { sb in
                shift.withUnsafeBufferPointer { hb in
                    let sp = sb.baseAddress!, hp = hb.baseAddress!
                    Parallelism.forEachRange(n * positions, minimumPerTask: small ? n * positions : 64) { range in
                        // Rows of one sample at a time (their scale and shift).
                        var r = range.lowerBound
                        while r < range.upperBound {
                            let b = r / positions, end = min(range.upperBound, (b + 1) * positions)
                            ck_group_norm_apply(src + r * c, dst + r * c, Int64(end - r), Int64(c), sp + b * c, hp + b * c,
                                                silu ? 1 : 0)
                            r = end
                        }
                    }
                }
            }
            return out
        }
    }

    /// torch `nn.LayerNorm(C, eps)` over the last axis.
    public func layerNorm(weight: Tensor?, bias: Tensor?, epsilon: Float) throws -> Tensor {
        try Profiler.measure("layernorm") {
            guard let c = shape.last, c > 0 else { throw TensorError.invalidShape("layerNorm of \(shape)") }
            if let weight, weight.shape != [c] { throw TensorError.shapeMismatch("layerNorm weight \(weight.shape) for \(c)") }
            if let bias, bias.shape != [c] { throw TensorError.shapeMismatch("layerNorm bias \(bias.shape) for \(c)") }
            var out = Tensor(uninitialized: shape)
            let src = pointer, dst = out.mutablePointer()
            let gamma = weight?.pointer, beta = bias?.pointer
            Parallelism.forEachRange(count / c, minimumPerTask: 16) { range in
                ck_layer_norm_rows(src + range.lowerBound * c, dst + range.lowerBound * c, Int64(range.count), Int64(c),
                                   gamma, beta, epsilon)
            }
            return out
        }
    }

    /// Softmax over the last axis (max-subtracted).
    public func softmax() throws -> Tensor {
        guard let c = shape.last, c > 0 else { throw TensorError.invalidShape("softmax of \(shape)") }
        var out = self
        let d = out.mutablePointer()
        Parallelism.forEachRange(count / c, minimumPerTask: 16) { range in
            softmaxRows(d + range.lowerBound * c, rows: range.count, n: c, stride: c)
        }
        return out
    }
}

/// In-place softmax of `rows` rows of `n` floats, `stride` apart: the vectorised C kernel
/// (`ck_softmax_rows`, an FMA Cephes exp, the same bits on every instruction set);
/// `Reference.softmax` is its plain twin.
@inline(__always)
func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, n: Int, stride: Int) {
    ck_softmax_rows(x, Int64(rows), Int64(n), Int64(stride))
}

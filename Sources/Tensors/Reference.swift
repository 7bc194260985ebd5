// Plain reference kernels: the slow, obviously-correct twins of the fast kernels, used by the
// tests to check them on random shapes. Single-threaded loops with Double accumulation.

import Foundation

public enum Reference {
    /// Direct convolution of [N, H, W, Cin] with an unpacked PyTorch weight [Cout, Cin, kh, kw].
    public static func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int, padding: Int) -> Tensor {
        let (n, h, w, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (cout, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        let ho = (h + 2 * padding - kh) / stride + 1, wo = (w + 2 * padding - kw) / stride + 1
        var out = Tensor(zeros: [n, ho, wo, cout])
        let o = out.mutablePointer(), xp = x.pointer, wp = weight.pointer
        for b in 0..<n { for oy in 0..<ho { for ox in 0..<wo { for co in 0..<cout {
            var sum = Double(bias?.pointer[co] ?? 0)
            for ci in 0..<cin { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                sum += Double(xp[((b * h + iy) * w + ix) * cin + ci]) * Double(wp[((co * cin + ci) * kh + ky) * kw + kx])
            } } }
            o[((b * ho + oy) * wo + ox) * cout + co] = Float(sum)
        } } } }
        return out
    }

    /// Group normalisation of [N, ..., C], straight from the definition.
    public static func groupNorm(_ x: Tensor, groups: Int, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
        let n = x.shape[0], c = x.shape[x.rank - 1]
        let positions = x.count / (n * c), per = c / groups
        var out = Tensor(zeros: x.shape)
        let o = out.mutablePointer(), xp = x.pointer
        for b in 0..<n { for g in 0..<groups {
            var values: [Double] = []
            for p in 0..<positions { for j in 0..<per { values.append(Double(xp[(b * positions + p) * c + g * per + j])) } }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            for p in 0..<positions { for j in 0..<per {
                let ch = g * per + j, i = (b * positions + p) * c + ch
                let y = (Double(xp[i]) - mean) / (variance + Double(epsilon)).squareRoot()
                o[i] = Float(y * Double(weight?.pointer[ch] ?? 1) + Double(bias?.pointer[ch] ?? 0))
            } }
        } }
        return out
    }

    /// Layer normalisation over the last axis.
    public static func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, epsilon: Float) -> Tensor {
        let c = x.shape[x.rank - 1]
        var out = Tensor(zeros: x.shape)
        let o = out.mutablePointer(), xp = x.pointer
        for r in 0..<(x.count / c) {
            let row = (0..<c).map { Double(xp[r * c + $0]) }
            let mean = row.reduce(0, +) / Double(c)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
            for j in 0..<c {
                let y = (row[j] - mean) / (variance + Double(epsilon)).squareRoot()
                o[r * c + j] = Float(y * Double(weight?.pointer[j] ?? 1) + Double(bias?.pointer[j] ?? 0))
            }
        }
        return out
    }

    /// x / (1 + exp(-x)) in Double.
    public static func silu(_ x: Tensor) -> Tensor {
        var out = Tensor(zeros: x.shape)
        let o = out.mutablePointer(), xp = x.pointer
        for i in 0..<x.count { let v = Double(xp[i]); o[i] = Float(v / (1 + Foundation.exp(-v))) }
        return out
    }

    /// Softmax over the last axis.
    public static func softmax(_ x: Tensor) -> Tensor {
        let c = x.shape[x.rank - 1]
        var out = Tensor(zeros: x.shape)
        let o = out.mutablePointer(), xp = x.pointer
        for r in 0..<(x.count / c) {
            let row = (0..<c).map { Double(xp[r * c + $0]) }
            let m = row.max() ?? 0
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<c { o[r * c + j] = Float(e[j] / s) }
        }
        return out
    }

    /// Multi-head attention straight from the definition.
    public static func attention(query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, causal: Bool = false) -> Tensor {
        let (b, lq, width) = (q.shape[0], q.shape[1], q.shape[2])
        let lk = k.shape[1], d = width / heads
        let scale = 1 / Double(d).squareRoot()
        var out = Tensor(zeros: q.shape)
        let o = out.mutablePointer(), qp = q.pointer, kp = k.pointer, vp = v.pointer
        for bi in 0..<b { for h in 0..<heads { for i in 0..<lq {
            let visible = causal ? min(lk, i + 1) : lk
            var scores = [Double](repeating: 0, count: visible)
            for j in 0..<visible {
                var s = 0.0
                for t in 0..<d { s += Double(qp[(bi * lq + i) * width + h * d + t]) * Double(kp[(bi * lk + j) * width + h * d + t]) }
                scores[j] = s * scale
            }
            let m = scores.max() ?? 0
            let e = scores.map { Foundation.exp($0 - m) }
            let total = e.reduce(0, +)
            for t in 0..<d {
                var acc = 0.0
                for j in 0..<visible { acc += e[j] / total * Double(vp[(bi * lk + j) * width + h * d + t]) }
                o[(bi * lq + i) * width + h * d + t] = Float(acc)
            }
        } } }
        return out
    }

    /// x [..., in] W^T + b with W [out, in], accumulated in Double.
    public static func linear(_ x: Tensor, weight w: Tensor, bias b: Tensor?) -> Tensor {
        let (inputs, outputs) = (w.shape[1], w.shape[0])
        let rows = x.count / inputs
        var out = Tensor(zeros: Array(x.shape.dropLast()) + [outputs])
        let o = out.mutablePointer(), xp = x.pointer, wp = w.pointer
        for r in 0..<rows { for j in 0..<outputs {
            var s = b.map { Double($0.pointer[j]) } ?? 0
            for i in 0..<inputs { s += Double(xp[r * inputs + i]) * Double(wp[j * inputs + i]) }
            o[r * outputs + j] = Float(s)
        } }
        return out
    }

    /// a [B, M, K] x b [B, K, N] -> [B, M, N], accumulated in Double.
    public static func batchedMatmul(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (batch, m, k, n) = (a.shape[0], a.shape[1], a.shape[2], b.shape[2])
        var out = Tensor(zeros: [batch, m, n])
        let o = out.mutablePointer(), ap = a.pointer, bp = b.pointer
        for i in 0..<batch { for r in 0..<m { for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(ap[(i * m + r) * k + p]) * Double(bp[(i * k + p) * n + j]) }
            o[(i * m + r) * n + j] = Float(s)
        } } }
        return out
    }

    /// The exact GELU 0.5 x (1 + erf(x / sqrt 2)) in Double.
    public static func gelu(_ x: Tensor) -> Tensor { elementwise(x) { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) } }

    /// x sigmoid(1.702 x) in Double.
    public static func quickGELU(_ x: Tensor) -> Tensor { elementwise(x) { $0 / (1 + Foundation.exp(-1.702 * $0)) } }

    /// GEGLU of rows [hidden, gate] (last axis 2d): hidden * gelu(gate) in Double.
    public static func geglu(_ x: Tensor) -> Tensor {
        let d = x.shape[x.rank - 1] / 2
        var out = Tensor(zeros: Array(x.shape.dropLast()) + [d])
        let o = out.mutablePointer(), xp = x.pointer
        for r in 0..<(x.count / (2 * d)) { for j in 0..<d {
            let h = Double(xp[r * 2 * d + j]), g = Double(xp[r * 2 * d + d + j])
            o[r * d + j] = Float(h * 0.5 * g * (1 + Foundation.erf(g / 2.0.squareRoot())))
        } }
        return out
    }

    /// f applied to every element in Double.
    static func elementwise(_ x: Tensor, _ f: (Double) -> Double) -> Tensor {
        var out = Tensor(zeros: x.shape)
        let o = out.mutablePointer(), xp = x.pointer
        for i in 0..<x.count { o[i] = Float(f(Double(xp[i]))) }
        return out
    }
}

// Elementwise arithmetic, activations and channel-vector broadcasts (NHWC: channels last).

import CKernels
import Foundation

extension Tensor {
    /// Elements per thread of the elementwise loops: memory-bound work of a few microseconds
    /// below this costs more to split than it saves (tiny decoder at 2 threads: its elementwise
    /// time 0.7 -> 0.5 ms per image; the default UNet's batch-1 maps were under 16,384 already).
    static let elementwiseMinimum = 65_536

    /// Applies `f` to every element into a new tensor, threaded.
    @inline(__always)
    public func mapElements(_ f: @escaping (Float) -> Float) -> Tensor {
        Profiler.measure("elementwise") {
            var out = Tensor(uninitialized: shape)
            let src = pointer, dst = out.mutablePointer()
            Parallelism.forEachRange(count, minimumPerTask: Self.elementwiseMinimum) { range in
                for i in range { dst[i] = f(src[i]) }
            }
            return out
        }
    }

    /// Combines two same-shaped tensors elementwise into a new tensor, threaded:
    /// out[i] = f(self[i], other[i]).
    public func zipElements(_ other: Tensor, _ f: @escaping (Float, Float) -> Float) throws -> Tensor {
        try zipElements(other, "elementwise", f)
    }

    @inline(__always)
    func zipElements(_ other: Tensor, _ name: String, _ f: @escaping (Float, Float) -> Float) throws -> Tensor {
        try Profiler.measure("elementwise") {
            guard shape == other.shape else {
                throw TensorError.shapeMismatch("\(name): \(shape) vs \(other.shape)")
            }
            var out = Tensor(uninitialized: shape)
            let a = pointer, b = other.pointer, dst = out.mutablePointer()
            Parallelism.forEachRange(count, minimumPerTask: Self.elementwiseMinimum) { range in
                for i in range { dst[i] = f(a[i], b[i]) }
            }
            return out
        }
    }

    public static func + (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try lhs.zipElements(rhs, "add") { $0 + $1 }
    }

    public static func - (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try lhs.zipElements(rhs, "subtract") { $0 - $1 }
    }

    public static func * (lhs: Tensor, rhs: Tensor) throws -> Tensor {
        try lhs.zipElements(rhs, "multiply") { $0 * $1 }
    }

    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        lhs.mapElements { $0 * rhs }
    }

    /// `self * a + other * b`, elementwise.
    public func scaledSum(_ a: Float, _ other: Tensor, _ b: Float) throws -> Tensor {
        try zipElements(other, "scaledSum") { $0 * a + $1 * b }
    }

    /// In place: self += other.
    public mutating func add(_ other: Tensor) throws {
        guard shape == other.shape else {
            throw TensorError.shapeMismatch("add: \(shape) vs \(other.shape)")
        }
        let dst = mutablePointer(), src = other.pointer
        Profiler.measure("elementwise") {
            Parallelism.forEachRange(count, minimumPerTask: Self.elementwiseMinimum) { range in
                for i in range { dst[i] += src[i] }
            }
        }
    }

    /// Adds a per-channel vector [C] to every position of [..., C], or a per-batch
    /// vector [N, C] to every position of [N, ..., C] (a time embedding added to a feature map).
    public func addingChannelVector(_ vector: Tensor) throws -> Tensor {
        let c = shape.last ?? 0
        guard vector.shape.last == c, vector.rank == 1 || vector.rank == 2 else {
            throw TensorError.shapeMismatch("addingChannelVector: \(shape) + \(vector.shape)")
        }
        let batches = vector.rank == 2 ? vector.shape[0] : 1
        guard vector.rank == 1 || (rank >= 2 && shape[0] == batches) else {
            throw TensorError.shapeMismatch("addingChannelVector: batch of \(shape) vs \(vector.shape)")
        }
        var out = Tensor(uninitialized: shape)
        let rows = c == 0 ? 0 : count / c
        let rowsPerBatch = rows / batches
        let src = pointer, v = vector.pointer, dst = out.mutablePointer()
        Profiler.measure("elementwise") {
        Parallelism.forEachRange(rows, minimumPerTask: 256) { range in
            for r in range {
                let vb = v + (r / max(rowsPerBatch, 1)) * c
                let s = src + r * c, d = dst + r * c
                for j in 0..<c { d[j] = s[j] + vb[j] }
            }
        }
        }
        return out
    }

    /// x * sigmoid(x).
    /// Vectorised C kernel (`ck_silu`, an FMA Cephes exp); `Reference.silu` is its twin.
    public func silu() -> Tensor {
        Profiler.measure("elementwise") {
            var out = Tensor(uninitialized: shape)
            let src = pointer, dst = out.mutablePointer()
            Parallelism.forEachRange(count, minimumPerTask: Self.elementwiseMinimum) { range in
                ck_silu(src + range.lowerBound, dst + range.lowerBound, Int64(range.count))
            }
            return out
        }
    }

    /// torch.relu: max(x, 0).
    public func relu() -> Tensor { mapElements { $0 > 0 ? $0 : 0 } }

    /// Exact GELU: 0.5 x (1 + erf(x / sqrt 2)) (torch's default, approximate="none").
    public func gelu() -> Tensor { mapElements { 0.5 * $0 * (1 + erff($0 * 0.70710678118654752)) } }

    /// GELU with the tanh approximation (torch approximate="tanh").
    public func geluTanh() -> Tensor {
        mapElements { x in 0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x))) }
    }

    /// x * sigmoid(1.702 x), CLIP's "quick_gelu".
    public func quickGELU() -> Tensor { mapElements { $0 / (1 + expf(-1.702 * $0)) } }

    /// GEGLU as diffusers computes it after its projection: the last dimension holds
    /// [hidden, gate]; returns hidden * gelu(gate), last dimension halved. Vectorised C kernel
    /// (`ck_geglu_rows`, a rational erf within 4e-7); `gelu()` with libm's erff is its twin.
    public func geglu() throws -> Tensor {
        guard let twice = shape.last, twice % 2 == 0 else {
            throw TensorError.invalidShape("geglu needs an even last dimension, got \(shape)")
        }
        let d = twice / 2
        var outShape = shape
        outShape[outShape.count - 1] = d
        var out = Tensor(uninitialized: outShape)
        let rows = d == 0 ? 0 : count / twice
        let src = pointer, dst = out.mutablePointer()
        Profiler.measure("geglu") {
        Parallelism.forEachRange(rows, minimumPerTask: 16) { range in
            ck_geglu_rows(src + range.lowerBound * twice, dst + range.lowerBound * d, Int64(range.count), Int64(d))
        }
        }
        return out
    }
}

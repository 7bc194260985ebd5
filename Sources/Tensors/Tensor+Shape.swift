// Shape operations: concatenation and split along the last axis, nearest 2x upsampling,
// and general axis permutation.

extension Tensor {
    /// Concatenates tensors along the last axis; all other dimensions must agree
    /// (a UNet skip connection in NHWC).
    public static func concatenateLastAxis(_ parts: [Tensor]) throws -> Tensor {
        try Profiler.measure("copy (concat, split, upsample)") {
            guard let first = parts.first else { throw TensorError.invalidArgument("concatenate of nothing") }
            let lead = Array(first.shape.dropLast())
            for p in parts where Array(p.shape.dropLast()) != lead || p.rank != first.rank {
                throw TensorError.shapeMismatch("concatenate: \(first.shape) vs \(p.shape)")
            }
            let widths = parts.map { $0.shape.last ?? 0 }
            let total = widths.reduce(0, +)
            var out = Tensor(uninitialized: lead + [total])
            let rows = lead.reduce(1, *)
            let dst = out.mutablePointer()
            Parallelism.forEachRange(rows, minimumPerTask: 64) { range in
                for r in range {
                    var offset = 0
                    for (p, w) in zip(parts, widths) {
                        (dst + r * total + offset).update(from: p.pointer + r * w, count: w)
                        offset += w
                    }
                }
            }
            return out
        }
    }

    /// Splits the last axis into pieces of the given widths.
    public func splitLastAxis(_ widths: [Int]) throws -> [Tensor] {
        try Profiler.measure("copy (concat, split, upsample)") {
            guard let c = shape.last, widths.reduce(0, +) == c, widths.allSatisfy({ $0 >= 0 }) else {
                throw TensorError.shapeMismatch("split \(shape) into \(widths)")
            }
            let lead = Array(shape.dropLast())
            let rows = lead.reduce(1, *)
            var offset = 0
            var result: [Tensor] = []
            for w in widths {
                var part = Tensor(uninitialized: lead + [w])
                let dst = part.mutablePointer(), src = pointer, o = offset
                Parallelism.forEachRange(rows, minimumPerTask: 64) { range in
                    for r in range { (dst + r * w).update(from: src + r * c + o, count: w) }
                }
                result.append(part)
                offset += w
            }
            return result
        }
    }

    /// Concatenates tensors along the first axis (batching).
    public static func concatenateFirstAxis(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw TensorError.invalidArgument("concatenate of nothing") }
        let tail = Array(first.shape.dropFirst())
        for p in parts where Array(p.shape.dropFirst()) != tail || p.rank != first.rank {
            throw TensorError.shapeMismatch("concatenate: \(first.shape) vs \(p.shape)")
        }
        var out = Tensor(zeros: [parts.map { $0.shape[0] }.reduce(0, +)] + tail)
        var dst = out.mutablePointer()
        for p in parts {
            dst.update(from: p.pointer, count: p.count)
            dst += p.count
        }
        return out
    }

    /// Embedding lookup: rows `ids` of a table [V, D] -> [ids.count, D]; an id outside 0..<V
    /// is an error.
    public func gatherRows(_ ids: [Int32]) throws -> Tensor {
        guard rank == 2 else { throw TensorError.invalidShape("gatherRows needs a [V, D] table, got \(shape)") }
        let (v, d) = (shape[0], shape[1])
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= v }) {
            throw TensorError.invalidArgument("id \(bad) outside the table of \(v) rows")
        }
        var out = Tensor(uninitialized: [ids.count, d])
        let dst = out.mutablePointer()
        for (r, id) in ids.enumerated() { (dst + r * d).update(from: pointer + Int(id) * d, count: d) }
        return out
    }

    /// Rows `range` of the first axis, copied.
    public func slicingFirstAxis(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw TensorError.invalidArgument("slice \(range) of \(shape)")
        }
        let inner = count / max(shape[0], 1)
        var out = Tensor(zeros: [range.count] + shape.dropFirst())
        out.mutablePointer().update(from: pointer + range.lowerBound * inner, count: range.count * inner)
        return out
    }

    /// Nearest-neighbour 2x upsampling of [N, H, W, C] to [N, 2H, 2W, C]
    /// (torch `interpolate(scale_factor=2.0, mode="nearest")`).
    public func upsampleNearest2x() throws -> Tensor {
        try Profiler.measure("copy (concat, split, upsample)") {
            guard rank == 4 else { throw TensorError.invalidShape("upsample needs [N, H, W, C], got \(shape)") }
            let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
            var out = Tensor(uninitialized: [n, 2 * h, 2 * w, c])
            let src = pointer, dst = out.mutablePointer()
            Parallelism.forEachRange(n * 2 * h, minimumPerTask: 4) { range in
                for row in range {
                    let b = row / (2 * h), y = row % (2 * h)
                    let s = src + ((b * h + y / 2) * w) * c
                    let d = dst + row * 2 * w * c
                    for x in 0..<(2 * w) { (d + x * c).update(from: s + (x / 2) * c, count: c) }
                }
            }
            return out
        }
    }

    /// Reorders axes: result axis i is input axis `order[i]` (torch `permute`).
    public func permuted(_ order: [Int]) throws -> Tensor {
        guard order.count == rank, Set(order) == Set(0..<rank) else {
            throw TensorError.invalidArgument("permutation \(order) of rank \(rank)")
        }
        let outShape = order.map { shape[$0] }
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = order.map { inStrides[$0] }
        var out = Tensor(uninitialized: outShape)
        let src = pointer, dst = out.mutablePointer()
        let inner = outShape.last ?? 1, innerStride = strides.last ?? 1
        let rows = inner == 0 ? 0 : count / inner
        Parallelism.forEachRange(rows, minimumPerTask: 64) { range in
            var index = [Int](repeating: 0, count: outShape.count)
            for r in range {
                var rem = r, base = 0
                for axis in stride(from: outShape.count - 2, through: 0, by: -1) {
                    index[axis] = rem % outShape[axis]
                    rem /= outShape[axis]
                    base += index[axis] * strides[axis]
                }
                let d = dst + r * inner
                for j in 0..<inner { d[j] = src[base + j * innerStride] }
            }
        }
        return out
    }
}

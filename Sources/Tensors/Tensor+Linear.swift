// Linear layers and batched matrix products, all through `GEMM`.

extension Tensor {
    /// y = x W^T + b over the last axis (torch `nn.Linear`): x [..., in], weight [out, in],
    /// bias [out] or nil -> [..., out].
    public func linear(weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        guard weight.rank == 2, let inFeatures = shape.last, weight.shape[1] == inFeatures else {
            throw TensorError.shapeMismatch("linear: input \(shape), weight \(weight.shape)")
        }
        let outFeatures = weight.shape[0]
        var (out, rows) = try linearOutput(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, residual: nil)
        GEMM.multiply(
            m: rows, n: outFeatures, k: inFeatures,
            a: pointer, lda: inFeatures,
            b: weight.pointer, ldb: inFeatures, transposeB: true,
            c: out.mutablePointer(), ldc: outFeatures, bias: bias?.pointer)
        return out
    }

    /// `linear` with a prepacked weight (same bytes): x [..., in], weight [out, in] packed -> [..., out].
    /// With `residual` (the output's shape) the result is `linear(...) + residual`, the bytes of a
    /// separate add, made inside each GEMM part (no second pass over the output).
    public func linear(packed weight: PackedMatrix, bias: Tensor? = nil, adding residual: Tensor? = nil) throws -> Tensor {
        guard let inFeatures = shape.last, weight.columns == inFeatures else {
            throw TensorError.shapeMismatch("linear: input \(shape), weight [\(weight.rows), \(weight.columns)]")
        }
        var (out, rows) = try linearOutput(inFeatures: inFeatures, outFeatures: weight.rows, bias: bias, residual: residual)
        GEMM.multiply(m: rows, a: pointer, lda: inFeatures, packed: weight, c: out.mutablePointer(), ldc: weight.rows,
                      bias: bias?.pointer, residual: residual?.pointer)
        return out
    }

    /// The (uninitialized) output [..., out] of a linear layer on self [..., in] and its row
    /// count, after checking the bias [out] and residual [..., out] shapes; GEMM writes the bias
    /// rows and adds the residual per part.
    private func linearOutput(inFeatures: Int, outFeatures: Int, bias: Tensor?, residual: Tensor?) throws -> (Tensor, Int) {
        if let bias, bias.shape != [outFeatures] {
            throw TensorError.shapeMismatch("linear: bias \(bias.shape) for \(outFeatures) outputs")
        }
        let outShape = Array(shape.dropLast()) + [outFeatures]
        if let residual, residual.shape != outShape {
            throw TensorError.shapeMismatch("linear: residual \(residual.shape) for output \(outShape)")
        }
        return (Tensor(uninitialized: outShape), inFeatures == 0 ? count : count / inFeatures)
    }

    /// Batched matrix product: self [B, M, K] x other [B, K, N] -> [B, M, N]
    /// (other [B, N, K] when `transposeOther`).
    public func batchedMatmul(_ other: Tensor, transposeOther: Bool = false) throws -> Tensor {
        guard rank == 3, other.rank == 3, shape[0] == other.shape[0] else {
            throw TensorError.shapeMismatch("batchedMatmul: \(shape) x \(other.shape)")
        }
        let (b, m, k) = (shape[0], shape[1], shape[2])
        let n = transposeOther ? other.shape[1] : other.shape[2]
        guard (transposeOther ? other.shape[2] : other.shape[1]) == k else {
            throw TensorError.shapeMismatch("batchedMatmul: \(shape) x \(other.shape)")
        }
        var out = Tensor(uninitialized: [b, m, n])
        let a = pointer, bp = other.pointer, c = out.mutablePointer()
        let ldb = transposeOther ? k : n
        if b >= Parallelism.threadCount {
            Parallelism.forEach(b) { i in
                GEMM.single(m: m, n: n, k: k, a: a + i * m * k, lda: k, transposeA: false,
                            b: bp + i * k * n, ldb: ldb, transposeB: transposeOther,
                            c: c + i * m * n, ldc: n, alpha: 1, beta: 0)
            }
        } else {
            for i in 0..<b {
                GEMM.multiply(m: m, n: n, k: k, a: a + i * m * k, lda: k,
                              b: bp + i * k * n, ldb: ldb, transposeB: transposeOther,
                              c: c + i * m * n, ldc: n)
            }
        }
        return out
    }
}

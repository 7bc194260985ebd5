import CKernels

// Multi-head scaled dot-product attention (torch `F.scaled_dot_product_attention` on heads
// split from the channel axis, as diffusers' attention processor does).

extension Tensor {
    /// q [B, Lq, H*D], k and v [B, Lk, H*D] -> [B, Lq, H*D]; softmax(q k^T * scale) v per head,
    /// scale defaulting to 1/sqrt(D). With `causal`, query i attends to keys 0...i only (CLIP's
    /// text encoder). Work items are (batch, head, block of query rows), each computed by
    /// one thread, so results do not depend on the thread count (nor on the block size: rows
    /// of a GEMM do not depend on its split). Blocks are 256 rows: the keys and values are
    /// packed once per block, and fewer, larger QK^T and PV products ran 9-24% faster at 1,024+
    /// queries and 12% at the default model's 256 (`stylediff-bench attention`); `rowBlock`
    /// overrides it, for that benchmark.
    public static func attention(query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, scale: Float? = nil, causal: Bool = false,
                                 rowBlock requestedRowBlock: Int? = nil) throws -> Tensor {
        guard q.rank == 3, k.rank == 3, v.rank == 3, k.shape == v.shape,
              q.shape[0] == k.shape[0], q.shape[2] == k.shape[2] else {
            throw TensorError.shapeMismatch("attention: q \(q.shape), k \(k.shape), v \(v.shape)")
        }
        return try attention(q: q.pointer, queryStride: q.shape[2], k: k.pointer, v: v.pointer, keyStride: k.shape[2],
                             batch: q.shape[0], queries: q.shape[1], keys: k.shape[1], width: q.shape[2], heads: heads,
                             scale: scale, causal: causal, rowBlock: requestedRowBlock)
    }

    /// Self-attention on the projections side by side, as one fused GEMM makes them:
    /// qkv [B, L, 3W] (q, k, v) -> [B, L, W]; the bits of `attention(query:key:value:)`.
    public static func attention(packedQKV qkv: Tensor, heads: Int, causal: Bool = false) throws -> Tensor {
        guard qkv.rank == 3, qkv.shape[2] % 3 == 0 else {
            throw TensorError.shapeMismatch("attention: fused q, k, v \(qkv.shape), expected [B, L, 3W]")
        }
        let width = qkv.shape[2] / 3, p = qkv.pointer
        return try withExtendedLifetime(qkv) {
            try attention(q: p, queryStride: 3 * width, k: p + width, v: p + 2 * width, keyStride: 3 * width,
                          batch: qkv.shape[0], queries: qkv.shape[1], keys: qkv.shape[1], width: width, heads: heads,
                          scale: nil, causal: causal, rowBlock: nil)
        }
    }

    /// Attention of q [B, Lq, W] over keys and values side by side, kv [B, Lk, 2W] (k, v) -> [B, Lq, W].
    public static func attention(query q: Tensor, packedKeyValue kv: Tensor, heads: Int) throws -> Tensor {
        guard q.rank == 3, kv.rank == 3, q.shape[0] == kv.shape[0], kv.shape[2] == 2 * q.shape[2] else {
            throw TensorError.shapeMismatch("attention: q \(q.shape), fused k, v \(kv.shape), expected [B, Lk, 2W]")
        }
        let width = q.shape[2], p = kv.pointer
        return try withExtendedLifetime(kv) {
            try attention(q: q.pointer, queryStride: width, k: p, v: p + width, keyStride: 2 * width,
                          batch: q.shape[0], queries: q.shape[1], keys: kv.shape[1], width: width, heads: heads,
                          scale: nil, causal: false, rowBlock: nil)
        }
    }

    /// The kernel: rows of q, k and v `queryStride` / `keyStride` floats apart (k and v share
    /// theirs), output [B, Lq, W] contiguous.
    static func attention(q qp: UnsafePointer<Float>, queryStride ldq: Int, k kp: UnsafePointer<Float>, v vp: UnsafePointer<Float>,
                          keyStride ldk: Int, batch b: Int, queries lq: Int, keys lk: Int, width: Int, heads: Int,
                          scale: Float?, causal: Bool, rowBlock requestedRowBlock: Int?) throws -> Tensor {
        try Profiler.measure("attention (QK^T, softmax, PV)") {
            guard heads > 0, width % heads == 0 else {
                throw TensorError.invalidArgument("attention: width \(width) not divisible by \(heads) heads")
            }
            let d = width / heads
            let s = scale ?? 1 / Float(d).squareRoot()
            var out = Tensor(uninitialized: [b, lq, width])
            let op = out.mutablePointer()
            if lk >= Self.onlineSoftmaxKeys && !causal && requestedRowBlock == nil {
                onlineAttention(q: qp, ldq: ldq, k: kp, v: vp, ldk: ldk, out: op, batch: b, lq: lq, lk: lk, heads: heads, d: d,
                                scale: s)
                return out
            }
            let rowBlock = max(1, requestedRowBlock ?? 256)
            let blocks = (lq + rowBlock - 1) / rowBlock
            Parallelism.forEachRange(b * heads * blocks) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * max(lk, 1))
                defer { scores.deallocate() }
                for item in range {
                    let bi = item / (heads * blocks), h = (item / blocks) % heads, blk = item % blocks
                    let r0 = blk * rowBlock, rows = min(rowBlock, lq - r0)
                    let qBase = qp + (bi * lq + r0) * ldq + h * d
                    let kBase = kp + bi * lk * ldk + h * d
                    let vBase = vp + bi * lk * ldk + h * d
                    GEMM.single(m: rows, n: lk, k: d, a: qBase, lda: ldq, transposeA: false,
                                b: kBase, ldb: ldk, transposeB: true,
                                c: scores, ldc: lk, alpha: s, beta: 0)
                    if causal {
                        for r in 0..<rows where r0 + r + 1 < lk {
                            (scores + r * lk + r0 + r + 1).update(repeating: -.infinity, count: lk - (r0 + r + 1))
                        }
                    }
                    softmaxRows(scores, rows: rows, n: lk, stride: lk)
                    GEMM.single(m: rows, n: d, k: lk, a: scores, lda: lk, transposeA: false,
                                b: vBase, ldb: ldk, transposeB: false,
                                c: op + (bi * lq + r0) * width + h * d, ldc: width, alpha: 1, beta: 0)
                }
            }
            return out
        }
    }

    /// Keys from which attention runs online (`onlineAttention`); below it, the two-pass kernel.
    static let onlineSoftmaxKeys = 1024

    /// Attention over long key sequences without a full score row per query (flash attention's
    /// online softmax): per (batch, head, block of 128 query rows), keys in chunks of 512, all
    /// held transposed (keys by queries) so that every step runs down whole vectors of queries:
    /// S^T = k (q * scale)^T into GEMM panels of 32 queries (the scaled queries packed once per
    /// block, the keys read in place), a running max and sum per query (`ck_online_softmax_panels`,
    /// no reduction across vector lanes), O^T = O^T * exp(m_old - m_new) + v^T P^T with the head's
    /// values transposed once and the probabilities used as the panels they are; O = (O^T)^T / sum
    /// at the end. Every product has the operands' fused multiply-add chains of the untransposed
    /// form (q k^T with the scale folded into q, P v), so the bits are those of that form, with
    /// no padding of the head size to whole panels (head size 40 had 48 columns of P v work for 40).
    /// Each work item runs on one thread in a fixed order, so results do not depend on the thread
    /// count; they differ from the two-pass kernel in the last bits (another summation order).
    static func onlineAttention(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldk: Int,
                                out: UnsafeMutablePointer<Float>, batch b: Int, lq: Int, lk: Int, heads: Int, d: Int,
                                scale: Float) {
        let width = heads * d, rowBlock = 128, chunk = 512, panel = Int(CK_PANEL)
        let blocks = (lq + rowBlock - 1) / rowBlock
        // Each head's values transposed, v^T [d, lk]: the A operand of O^T = v^T P^T, rows read in
        // place. Rows are `ldv` floats apart, lk rounded up to 16 plus 16: rows a power of two
        // apart (4,096 keys: 16 KB) would all fall in one L1 set as the micro-kernel reads 12 of them.
        let ldv = (lk + 15) / 16 * 16 + 16
        let transposed = TensorStorage(count: b * heads * d * ldv, zeroed: false)
        let vt = transposed.pointer
        Parallelism.forEach(b * heads) { item in
            let bi = item / heads, h = item % heads
            ck_transpose(v + bi * lk * ldk + h * d, Int64(lk), Int64(d), Int64(ldk), vt + item * d * ldv, Int64(ldv))
        }
        let queryPanels = Int(ck_panels_count(Int64(rowBlock), Int64(d)))
        Parallelism.forEachRange(b * heads * blocks) { range in
            // Scores (P^T panels), the block's scaled queries as panels, O^T [d, rowBlock], and the
            // running max, sum and rescale per query; zeroed once so that the lanes of a partial
            // last panel, computed and ignored, hold finite values.
            let scratchCount = rowBlock * chunk + queryPanels + d * rowBlock + 3 * rowBlock
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
            scores.initialize(repeating: 0, count: scratchCount)
            defer { scores.deallocate() }
            let qp = scores + rowBlock * chunk, ot = qp + queryPanels
            let runMax = ot + d * rowBlock, runSum = runMax + rowBlock, rescale = runSum + rowBlock
            for item in range {
                let bi = item / (heads * blocks), h = (item / blocks) % heads, blk = item % blocks
                let r0 = blk * rowBlock, rows = min(rowBlock, lq - r0)
                let kBase = k + bi * lk * ldk + h * d
                let values = vt + (bi * heads + h) * d * ldv
                ck_pack_panels_strided(Int64(rows), Int64(d), q + (bi * lq + r0) * ldq + h * d, Int64(ldq), qp)
                let packed = Int(ck_panels_count(Int64(rows), Int64(d)))
                for i in 0..<packed { qp[i] = scale * qp[i] }  // as the GEMM folds alpha into A
                runMax.update(repeating: -.infinity, count: rowBlock)
                runSum.update(repeating: 0, count: rowBlock)
                var c0 = 0
                while c0 < lk {
                    let cn = min(chunk, lk - c0)
                    var j0 = 0
                    while j0 < rows {  // S^T for 32 queries at a time, into their panel (row stride 32)
                        _ = ck_sgemm_panels(Int64(cn), Int64(min(panel, rows - j0)), Int64(d), kBase + c0 * ldk, Int64(ldk), 0,
                                            UnsafeRawPointer(qp), CK_PANELS_FLOAT, Int64(j0), scores + j0 * cn, Int64(panel), 1, 0)
                        j0 += panel
                    }
                    ck_online_softmax_panels(scores, Int64(rows), Int64(cn), runMax, runSum, rescale)
                    if c0 > 0 { ck_scale_columns(ot, Int64(d), Int64(rows), Int64(rowBlock), rescale) }
                    var i0 = 0
                    while i0 < d {  // 256 rows of v^T at a time: read in place, not packed (the VAE's d = 512)
                        _ = ck_sgemm_panels(Int64(min(256, d - i0)), Int64(rows), Int64(cn), values + i0 * ldv + c0, Int64(ldv), 0,
                                            UnsafeRawPointer(scores), CK_PANELS_FLOAT, 0, ot + i0 * rowBlock, Int64(rowBlock), 1,
                                            c0 == 0 ? 0 : 1)
                        i0 += 256
                    }
                    c0 += cn
                }
                ck_transpose_divided(ot, Int64(d), Int64(rows), Int64(rowBlock), runSum, out + (bi * lq + r0) * width + h * d,
                                     Int64(width))
            }
        }
    }
}

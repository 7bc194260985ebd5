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
    /// online softmax): per (batch, head, block of 128 query rows), keys in chunks of 512:
    /// S = q k^T * scale against the head's keys prepacked as GEMM panels, a running max and sum
    /// per row (`ck_online_softmax_rows`), O = O * exp(m_old - m_new) + P v with the chunk's
    /// values prepacked too; O / sum at the end.
    /// Each work item runs on one thread in a fixed order, so results do not depend on the thread
    /// count; they differ from the two-pass kernel in the last bits (another summation order).
    static func onlineAttention(q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ldk: Int,
                                out: UnsafeMutablePointer<Float>, batch b: Int, lq: Int, lk: Int, heads: Int, d: Int,
                                scale: Float) {
        let width = heads * d, rowBlock = 128, chunk = 512
        let blocks = (lq + rowBlock - 1) / rowBlock
        // Each head's keys [lk, d] as panels, and its values as the B panels of each key chunk's
        // P V ([cn, d] rows c0 ..< c0 + cn: d rounded up to panels, cn deep), once: the same
        // chains as the unpacked product, without packing the values again for every query block.
        let panelCount = Int(ck_panels_count(Int64(lk), Int64(d)))
        let paddedD = Int(ck_panels_count(Int64(d), 1))
        let valueCount = lk * paddedD
        let panels = TensorStorage(count: b * heads * panelCount, zeroed: false)
        let valuePanels = TensorStorage(count: b * heads * valueCount, zeroed: false)
        let pp = panels.pointer, vpp = valuePanels.pointer
        Parallelism.forEach(b * heads) { item in
            let bi = item / heads, h = item % heads
            ck_pack_panels_strided(Int64(lk), Int64(d), k + bi * lk * ldk + h * d, Int64(ldk), pp + item * panelCount)
            var c0 = 0
            while c0 < lk {
                let cn = min(chunk, lk - c0)
                ck_pack_panels_rows(Int64(d), Int64(cn), v + (bi * lk + c0) * ldk + h * d, Int64(ldk),
                                    vpp + item * valueCount + c0 * paddedD)
                c0 += cn
            }
        }
        Parallelism.forEachRange(b * heads * blocks) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * chunk + 3 * rowBlock)
            defer { scores.deallocate() }
            let runMax = scores + rowBlock * chunk, runSum = runMax + rowBlock, rescale = runSum + rowBlock
            for item in range {
                let bi = item / (heads * blocks), h = (item / blocks) % heads, blk = item % blocks
                let r0 = blk * rowBlock, rows = min(rowBlock, lq - r0)
                let qBase = q + (bi * lq + r0) * ldq + h * d
                let o = out + (bi * lq + r0) * width + h * d
                let keyPanels = UnsafeRawPointer(pp + (bi * heads + h) * panelCount)
                let values = vpp + (bi * heads + h) * valueCount
                runMax.update(repeating: -.infinity, count: rows)
                runSum.update(repeating: 0, count: rows)
                var c0 = 0
                while c0 < lk {
                    let cn = min(chunk, lk - c0)
                    _ = ck_sgemm_panels(Int64(rows), Int64(cn), Int64(d), qBase, Int64(ldq), 0, keyPanels, 0, Int64(c0),
                                        scores, Int64(chunk), scale, 0)
                    ck_online_softmax_rows(scores, Int64(rows), Int64(cn), Int64(chunk), runMax, runSum, rescale)
                    if c0 > 0 {
                        for r in 0..<rows {
                            let a = rescale[r], row = o + r * width
                            for j in 0..<d { row[j] *= a }
                        }
                    }
                    _ = ck_sgemm_panels(Int64(rows), Int64(d), Int64(cn), scores, Int64(chunk), 0,
                                        UnsafeRawPointer(values + c0 * paddedD), CK_PANELS_FLOAT, 0, o, Int64(width), 1,
                                        c0 == 0 ? 0 : 1)
                    c0 += cn
                }
                for r in 0..<rows {
                    let inv = 1 / runSum[r], row = o + r * width
                    for j in 0..<d { row[j] *= inv }
                }
            }
        }
    }
}

import CKernels

// Multi-head scaled dot-product attention (torch `F.scaled_dot_product_attention` on heads
// split from the channel axis, as diffusers' attention processor does).

extension Tensor {
    /// q [B, Lq, H*D], k and v [B, Lk, H*D] -> [B, Lq, H*D]; softmax(q k^T * scale) v per head,
    /// scale defaulting to 1/sqrt(D). With `causal`, query i attends to keys 0...i only (CLIP's
    /// text encoder). Work items are (batch, head, block of query rows), each computed by
    /// one thread, so results do not depend on the thread count. Blocks are 64 rows, 256 from
    /// 1,024 queries on (Stable Diffusion at 256 px and up, VAE mid-block attention), where the
    /// fewer, larger QK^T and PV products are 9-24% faster (`stylediff-bench attention`);
    /// `rowBlock` overrides the rule, for that benchmark.
    public static func attention(query q: Tensor, key k: Tensor, value v: Tensor, heads: Int, scale: Float? = nil, causal: Bool = false,
                                 rowBlock requestedRowBlock: Int? = nil) throws -> Tensor {
        try Profiler.measure("attention (QK^T, softmax, PV)") {
            guard q.rank == 3, k.rank == 3, v.rank == 3, k.shape == v.shape,
                  q.shape[0] == k.shape[0], q.shape[2] == k.shape[2] else {
                throw TensorError.shapeMismatch("attention: q \(q.shape), k \(k.shape), v \(v.shape)")
            }
            let (b, lq, width) = (q.shape[0], q.shape[1], q.shape[2])
            let lk = k.shape[1]
            guard heads > 0, width % heads == 0 else {
                throw TensorError.invalidArgument("attention: width \(width) not divisible by \(heads) heads")
            }
            let d = width / heads
            let s = scale ?? 1 / Float(d).squareRoot()
            var out = Tensor(uninitialized: q.shape)
            let qp = q.pointer, kp = k.pointer, vp = v.pointer, op = out.mutablePointer()
            if lk >= Self.onlineSoftmaxKeys && !causal && requestedRowBlock == nil {
                onlineAttention(q: qp, k: kp, v: vp, out: op, batch: b, lq: lq, lk: lk, heads: heads, d: d, scale: s)
                return out
            }
            let rowBlock = max(1, requestedRowBlock ?? (lq >= 1024 ? 256 : 64))
            let blocks = (lq + rowBlock - 1) / rowBlock
            Parallelism.forEachRange(b * heads * blocks) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * max(lk, 1))
                defer { scores.deallocate() }
                for item in range {
                    let bi = item / (heads * blocks), h = (item / blocks) % heads, blk = item % blocks
                    let r0 = blk * rowBlock, rows = min(rowBlock, lq - r0)
                    let qBase = qp + (bi * lq + r0) * width + h * d
                    let kBase = kp + bi * lk * width + h * d
                    let vBase = vp + bi * lk * width + h * d
                    GEMM.single(m: rows, n: lk, k: d, a: qBase, lda: width, transposeA: false,
                                b: kBase, ldb: width, transposeB: true,
                                c: scores, ldc: lk, alpha: s, beta: 0)
                    if causal {
                        for r in 0..<rows where r0 + r + 1 < lk {
                            (scores + r * lk + r0 + r + 1).update(repeating: -.infinity, count: lk - (r0 + r + 1))
                        }
                    }
                    softmaxRows(scores, rows: rows, n: lk, stride: lk)
                    GEMM.single(m: rows, n: d, k: lk, a: scores, lda: lk, transposeA: false,
                                b: vBase, ldb: width, transposeB: false,
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
    /// per row (`ck_online_softmax_rows`), O = O * exp(m_old - m_new) + P v; O / sum at the end.
    /// Each work item runs on one thread in a fixed order, so results do not depend on the thread
    /// count; they differ from the two-pass kernel in the last bits (another summation order).
    static func onlineAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                out: UnsafeMutablePointer<Float>, batch b: Int, lq: Int, lk: Int, heads: Int, d: Int,
                                scale: Float) {
        let width = heads * d, rowBlock = 128, chunk = 512
        let blocks = (lq + rowBlock - 1) / rowBlock
        // Each head's keys [lk, d] as panels, once.
        let panelCount = Int(ck_panels_count(Int64(lk), Int64(d)))
        let panels = TensorStorage(count: b * heads * panelCount, zeroed: false)
        let pp = panels.pointer
        Parallelism.forEach(b * heads) { item in
            let bi = item / heads, h = item % heads
            ck_pack_panels_strided(Int64(lk), Int64(d), k + bi * lk * width + h * d, Int64(width), pp + item * panelCount)
        }
        Parallelism.forEachRange(b * heads * blocks) { range in
            let scores = UnsafeMutablePointer<Float>.allocate(capacity: rowBlock * chunk + 3 * rowBlock)
            defer { scores.deallocate() }
            let runMax = scores + rowBlock * chunk, runSum = runMax + rowBlock, rescale = runSum + rowBlock
            for item in range {
                let bi = item / (heads * blocks), h = (item / blocks) % heads, blk = item % blocks
                let r0 = blk * rowBlock, rows = min(rowBlock, lq - r0)
                let qBase = q + (bi * lq + r0) * width + h * d
                let vBase = v + bi * lk * width + h * d
                let o = out + (bi * lq + r0) * width + h * d
                let keyPanels = UnsafeRawPointer(pp + (bi * heads + h) * panelCount)
                runMax.update(repeating: -.infinity, count: rows)
                runSum.update(repeating: 0, count: rows)
                var c0 = 0
                while c0 < lk {
                    let cn = min(chunk, lk - c0)
                    _ = ck_sgemm_panels(Int64(rows), Int64(cn), Int64(d), qBase, Int64(width), 0, keyPanels, 0, Int64(c0),
                                        scores, Int64(chunk), scale, 0)
                    ck_online_softmax_rows(scores, Int64(rows), Int64(cn), Int64(chunk), runMax, runSum, rescale)
                    if c0 > 0 {
                        for r in 0..<rows {
                            let a = rescale[r], row = o + r * width
                            for j in 0..<d { row[j] *= a }
                        }
                    }
                    GEMM.single(m: rows, n: d, k: cn, a: scores, lda: chunk, transposeA: false,
                                b: vBase + c0 * width, ldb: width, transposeB: false,
                                c: o, ldc: width, alpha: 1, beta: c0 == 0 ? 0 : 1)
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

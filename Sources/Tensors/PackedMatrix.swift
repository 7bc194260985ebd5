// A weight matrix packed once for GEMM: W [rows, columns] (torch Linear layout, rows are outputs)
// as panels of 32 rows, k-major inside a panel (CKernels `ck_pack_panels`), so a product never
// repacks its weights. Held as IEEE halves when every value is exactly a half (weights stored as
// F16 on disk), else as floats: halves are widened exactly while used, so either storage gives
// the bits of `GEMM.multiply` on the unpacked W, at half the memory for F16 checkpoints.

import CKernels

public struct PackedMatrix: @unchecked Sendable {
    /// Outputs (N of C = A W^T).
    public let rows: Int
    /// Inputs (K).
    public let columns: Int
    /// Whether the panels hold halves (2 bytes a value) rather than floats.
    public let isHalf: Bool
    let storage: PanelStorage

    /// Packs `weight` [rows, columns]; as halves when every value round-trips through fp16
    /// exactly and `allowHalf` is set.
    public init(_ weight: Tensor, allowHalf: Bool = true) throws {
        guard weight.rank == 2 else { throw TensorError.invalidShape("packed matrix: weight must be [rows, columns], got \(weight.shape)") }
        rows = weight.shape[0]
        columns = weight.shape[1]
        let count = Int(ck_panels_count(Int64(rows), Int64(columns)))
        isHalf = allowHalf && weight.count > 0 && ck_all_halves(weight.pointer, Int64(weight.count)) != 0
        storage = PanelStorage(byteCount: count * (isHalf ? 2 : 4))
        if isHalf {
            ck_pack_panels_half(Int64(rows), Int64(columns), weight.pointer, storage.raw.assumingMemoryBound(to: UInt16.self))
        } else {
            ck_pack_panels(Int64(rows), Int64(columns), weight.pointer, storage.raw.assumingMemoryBound(to: Float.self))
        }
    }

    /// Bytes the panels take.
    public var byteCount: Int { storage.byteCount }

    /// W [rows, columns] as floats again.
    public func unpacked() -> Tensor {
        var w = Tensor(uninitialized: [rows, columns])
        ck_unpack_panels(Int64(rows), Int64(columns), storage.raw, isHalf ? 1 : 0, w.mutablePointer())
        return w
    }
}

/// The panels' memory, 64-byte aligned.
final class PanelStorage: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    let byteCount: Int

    init(byteCount: Int) {
        self.byteCount = byteCount
        raw = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
    }

    deinit { raw.deallocate() }
}

extension GEMM {
    /// C[m, n] = alpha * op(A)[m, k] * W^T + beta * C with W prepacked (n = W.rows, k = W.columns):
    /// the same bytes as `multiply` with the unpacked W as a transposed B.
    public static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        packed w: PackedMatrix,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        let panels = UnsafeRawPointer(w.storage.raw), half: Int32 = w.isHalf ? 1 : 0
        GEMM.forEachPart(m: m, n: w.rows, k: w.columns) { rows, columns in
            let aOffset = transposeA ? rows.lowerBound : rows.lowerBound * lda
            _ = ck_sgemm_panels(Int64(rows.count), Int64(columns.count), Int64(w.columns), a + aOffset, Int64(lda),
                                transposeA ? 1 : 0, panels, half, Int64(columns.lowerBound),
                                c + rows.lowerBound * ldc + columns.lowerBound, Int64(ldc), alpha, beta)
        }
    }
}

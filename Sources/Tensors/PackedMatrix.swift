// A weight matrix packed once for GEMM: W [rows, columns] (torch Linear layout, rows are outputs)
// as panels of 32 rows, k-major inside a panel (CKernels `ck_pack_panels`), so a product never
// repacks its weights. Held as IEEE halves when every value is exactly a half (weights stored as
// F16 on disk), else as floats: halves are widened exactly while used, so either storage gives
// the bits of `GEMM.multiply` on the unpacked W, at half the memory for F16 checkpoints.
// With `WeightPrecision.f16` every value is rounded to the nearest half first (as torch's
// `.half()`): an fp32 file at an F16 file's memory, with the bits of `.stored` on the rounded W.
// With `WeightPrecision.int8` W is quantized instead (per row symmetric, seed section 3.1): the
// GEMM then multiplies by the dequantized W (q x scale, the same floats on every variant), so
// its bits are those of `GEMM.multiply` on `unpacked()`, at a quarter of fp32's memory.

import CKernels

/// How weights are held in memory: as stored (halves when the file has F16, else floats),
/// rounded to halves (f16: for an F16 file the same as stored), or int8 with one scale per
/// output channel.
public enum WeightPrecision: String, Sendable, CaseIterable, Codable {
    case stored
    case f16
    case int8
}

public struct PackedMatrix: @unchecked Sendable {
    /// The panels' element format.
    public enum Format: Sendable { case float, half, int8 }

    /// Outputs (N of C = A W^T).
    public let rows: Int
    /// Inputs (K).
    public let columns: Int
    public let format: Format
    let storage: PanelStorage

    /// Whether the panels hold halves (2 bytes a value).
    public var isHalf: Bool { format == .half }

    /// The panels' identity: equal for copies of this matrix, distinct between matrices alive
    /// at the same time.
    public var identity: ObjectIdentifier { ObjectIdentifier(storage) }

    /// Matrices smaller than this stay floats even when their values are halves; the same bits
    /// either way. With the AVX-512 kernels 0 (every exact matrix is halves): their tiles read
    /// half panels of one row block as halves, which made halves as fast as floats on the default
    /// model's products and, at half the weight memory (its two UNets 12 MB each instead of ~22),
    /// 2% faster per image (1 and 2 threads, 20 DDIM steps and 4 LCM steps alike), SD 1.5's F16
    /// UNet unchanged. Elsewhere 262,144: the narrower variants widen every panel before use,
    /// which costs a few percent of a small model's time and saves little memory.
    public static var halfMinimumCount: Int { ck_force_path(0) == 3 ? 0 : 262_144 }

    /// Packs `weight` [rows, columns]: with `.stored`, as halves when every value round-trips
    /// through fp16 exactly and it has at least `halfMinimumCount` values (`.max`: never), else
    /// floats; with `.f16`, every value rounded to the nearest half (ties to even) and then as
    /// `.stored` (a value that rounds to no finite half is an error); with `.int8`, quantized per
    /// row (non-finite weights are an error).
    public init(_ weight: Tensor, precision: WeightPrecision = .stored, halfMinimumCount: Int = PackedMatrix.halfMinimumCount) throws {
        guard weight.rank == 2 else { throw TensorError.invalidShape("packed matrix: weight must be [rows, columns], got \(weight.shape)") }
        rows = weight.shape[0]
        columns = weight.shape[1]
        var source = weight
        switch precision {
        case .int8:
            format = .int8
        case .f16:
            let index = Int(ck_first_not_half_finite(weight.pointer, Int64(weight.count)))
            guard index == weight.count else {
                throw TensorError.invalidArgument("f16 weights: the [\(rows), \(columns)] matrix holds \(weight.pointer[index]) "
                                                  + "at [\(index / max(columns, 1)), \(index % max(columns, 1))], which no finite half approximates")
            }
            format = weight.count > 0 && weight.count >= halfMinimumCount ? .half : .float
            // Half panels round while packing; float panels take the rounded values.
            if format == .float { source = weight.mapElements { Float(Float16($0)) } }
        case .stored:
            format = weight.count > 0 && weight.count >= halfMinimumCount
                && ck_all_halves(weight.pointer, Int64(weight.count)) != 0 ? .half : .float
        }
        storage = PanelStorage(byteCount: Int(ck_panels_bytes(Int64(rows), Int64(columns), format.code)))
        switch format {
        case .int8:
            guard ck_pack_panels_int8(Int64(rows), Int64(columns), weight.pointer, storage.raw) == 0 else {
                throw TensorError.invalidArgument("int8 weights: the [\(rows), \(columns)] matrix holds a non-finite value")
            }
        case .half, .float:
            packFloats(source.pointer, rows: rows, at: 0)
        }
    }

    /// Packs `count` rows of floats (row-major, `columns` wide) as the panels of W's rows
    /// first ..< first + count (`first` a multiple of CK_PANEL), halves narrowed exactly.
    private func packFloats(_ w: UnsafePointer<Float>, rows count: Int, at first: Int) {
        if format == .half {
            ck_pack_panels_half(Int64(count), Int64(columns), w, storage.raw.assumingMemoryBound(to: UInt16.self) + first * columns)
        } else {
            ck_pack_panels(Int64(count), Int64(columns), w, storage.raw.assumingMemoryBound(to: Float.self) + first * columns)
        }
    }

    /// Packs W [rows, columns] straight from IEEE halves: `blocks` of rows in order, each
    /// `rows` x `columns` halves (little-endian, any alignment) laid out [rows, columns / taps,
    /// taps] and put in (tap, channel) order (taps 1: as stored; kh kw: a convolution weight
    /// [Cout, Cin, kh, kw], as `Tensor.packConvolutionWeight` orders it). The panels (halves from
    /// `halfMinimumCount` values, else floats: every value is a half) are those of `init(_:)` on
    /// the widened, repacked and concatenated matrix, without making it.
    public init(rows: Int, columns: Int, taps: Int, halfBlocks blocks: [(halves: UnsafeRawPointer, rows: Int)],
                halfMinimumCount: Int = PackedMatrix.halfMinimumCount) throws {
        guard rows >= 0, columns >= 0, taps > 0, columns % taps == 0, blocks.reduce(0, { $0 + $1.rows }) == rows else {
            throw TensorError.invalidShape("packed matrix from halves: blocks of \(blocks.map(\.rows)) rows for [\(rows), \(columns)] in \(taps) taps")
        }
        self.rows = rows
        self.columns = columns
        format = rows * columns > 0 && rows * columns >= halfMinimumCount ? .half : .float
        storage = PanelStorage(byteCount: Int(ck_panels_bytes(Int64(rows), Int64(columns), format.code)))
        // Panel by panel: its rows widened (and put in tap order) into one scratch matrix of at
        // most CK_PANEL rows, packed as `init(_:)` packs.
        let panel = Int(CK_PANEL), inChannels = columns / taps
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, panel * columns))
        let gathered = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, columns))
        defer { scratch.deallocate(); gathered.deallocate() }
        var block = 0, rowInBlock = 0
        for first in stride(from: 0, to: rows, by: panel) {
            let count = min(panel, rows - first)
            for r in 0..<count {
                while rowInBlock == blocks[block].rows { (block, rowInBlock) = (block + 1, 0) }
                ck_widen_halves_taps_last(Int64(inChannels), Int64(taps), blocks[block].halves + 2 * rowInBlock * columns, gathered,
                                          scratch + r * columns)
                rowInBlock += 1
            }
            packFloats(scratch, rows: count, at: first)
        }
    }

    /// Bytes the panels take.
    public var byteCount: Int { storage.byteCount }

    /// W [rows, columns] as floats again.
    public func unpacked() -> Tensor {
        var w = Tensor(uninitialized: [rows, columns])
        ck_unpack_panels(Int64(rows), Int64(columns), storage.raw, format.code, w.mutablePointer())
        return w
    }
}

extension PackedMatrix.Format {
    /// CKernels' CK_PANELS_* value.
    var code: Int32 {
        switch self {
        case .float: return CK_PANELS_FLOAT
        case .half: return CK_PANELS_HALF
        case .int8: return CK_PANELS_INT8
        }
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
    /// the same bytes as `multiply` with the unpacked W as a transposed B (`bias` and `residual`
    /// as there).
    public static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        packed w: PackedMatrix,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0,
        bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil
    ) {
        multiply(m: m, a: a, lda: lda, transposeA: transposeA, panels: UnsafeRawPointer(w.storage.raw), format: w.format.code,
                 n: w.rows, k: w.columns, c: c, ldc: ldc, alpha: alpha, beta: beta, bias: bias, residual: residual)
    }

    /// The same product on W [n, k] given as panels (`ck_pack_panels` layout) in CK_PANELS_* `format`.
    static func multiply(
        m: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        panels: UnsafeRawPointer, format: Int32, n: Int, k: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0,
        bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil
    ) {
        GEMM.forEachPart(m: m, n: n, k: k, prepackedB: true) { rows, columns in
            let aOffset = transposeA ? rows.lowerBound : rows.lowerBound * lda
            let cOffset = rows.lowerBound * ldc + columns.lowerBound
            _ = ck_sgemm_panels_fused(Int64(rows.count), Int64(columns.count), Int64(k), a + aOffset, Int64(lda),
                                      transposeA ? 1 : 0, panels, format, Int64(columns.lowerBound), c + cOffset,
                                      Int64(ldc), alpha, beta, bias.map { $0 + columns.lowerBound },
                                      residual.map { $0 + cOffset }, Int64(ldc))
        }
    }
}

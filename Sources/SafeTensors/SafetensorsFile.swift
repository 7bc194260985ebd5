// Memory-mapped reader for the safetensors format (huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} plus an
// optional "__metadata__" string map, then the raw little-endian data.
//
// Everything in the header is validated when the file is opened. F32 tensors whose data is
// 4-byte aligned are returned without a copy (a read-only view of the mapping); F16 and BF16
// (and unaligned F32) are converted to Float32 on request.

import CKernels
import Foundation
import Tensors
#if canImport(Glibc)
import Glibc
#endif

/// Element types of the safetensors format.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case u16 = "U16", u32 = "U32", u64 = "U64", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }
}

/// One tensor's entry in the header.
public struct SafetensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range within the data area.
    public let begin: Int
    public let end: Int
}

public final class SafetensorsFile: @unchecked Sendable {
    /// Headers larger than this are rejected before they are read (100 MB, the format's own bound).
    public static let maximumHeaderLength: UInt64 = 100_000_000

    public let path: String
    public let entries: [String: SafetensorsEntry]
    public let metadata: [String: String]
    private let base: UnsafeRawPointer
    private let mappedLength: Int
    private let dataOffset: Int

    /// Tensor names in file order.
    public var names: [String] { entries.values.sorted { $0.begin < $1.begin }.map(\.name) }

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafetensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafetensorsError.cannotOpen(file: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw SafetensorsError.cannotOpen(file: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw SafetensorsError.truncated(file: path, reason: "\(size) bytes, less than the 8-byte header length") }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw SafetensorsError.cannotOpen(file: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let raw = UnsafeRawPointer(m)
        do {
            let headerLength = raw.loadUnaligned(as: UInt64.self).littleEndian
            guard headerLength <= SafetensorsFile.maximumHeaderLength else {
                throw SafetensorsError.headerTooLarge(file: path, length: headerLength, limit: SafetensorsFile.maximumHeaderLength)
            }
            guard headerLength <= UInt64(size - 8) else {
                throw SafetensorsError.truncated(file: path, reason: "header length \(headerLength) exceeds the \(size - 8) bytes after it")
            }
            let header = Array(UnsafeRawBufferPointer(start: raw + 8, count: Int(headerLength)))
            let dataSize = size - 8 - Int(headerLength)
            (entries, metadata) = try SafetensorsFile.parseHeader(header, dataSize: dataSize, file: path)
            base = raw
            mappedLength = size
            dataOffset = 8 + Int(headerLength)
        } catch {
            munmap(m, size)
            throw error
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), mappedLength) }

    static func parseHeader(_ bytes: [UInt8], dataSize: Int, file: String) throws -> ([String: SafetensorsEntry], [String: String]) {
        let root: JSONValue
        do {
            root = try StrictJSONParser.parse(bytes)
        } catch StrictJSONParser.Failure.duplicateKey(let key) {
            throw SafetensorsError.duplicateTensor(file: file, tensor: key)
        } catch StrictJSONParser.Failure.syntax(let reason, let offset) {
            throw SafetensorsError.invalidHeader(file: file, reason: "JSON: \(reason) at byte \(offset)")
        }
        guard case .object(let members) = root else {
            throw SafetensorsError.invalidHeader(file: file, reason: "the header is not a JSON object")
        }
        var entries: [String: SafetensorsEntry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw SafetensorsError.invalidHeader(file: file, reason: "__metadata__ is not an object")
                }
                for (k, v) in pairs {
                    guard case .string(let s) = v else {
                        throw SafetensorsError.invalidHeader(file: file, reason: "__metadata__ value '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value else {
                throw SafetensorsError.invalidHeader(file: file, reason: "entry '\(name)' is not an object")
            }
            let f = Dictionary(fields, uniquingKeysWith: { a, _ in a })
            guard case .string(let dtypeName)? = f["dtype"] else {
                throw SafetensorsError.invalidHeader(file: file, reason: "entry '\(name)' has no dtype string")
            }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw SafetensorsError.unknownDType(file: file, tensor: name, dtype: dtypeName)
            }
            guard case .array(let dims)? = f["shape"] else {
                throw SafetensorsError.invalidShape(file: file, tensor: name, reason: "no shape array")
            }
            var shape: [Int] = []
            var elements = 1
            for d in dims {
                guard case .integer(let v) = d, v >= 0, v < 1 << 40 else {
                    throw SafetensorsError.invalidShape(file: file, tensor: name, reason: "dimension \(d) is not a non-negative integer")
                }
                shape.append(Int(v))
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(v))
                guard !overflow, product < 1 << 50 else {
                    throw SafetensorsError.invalidShape(file: file, tensor: name, reason: "element count overflows")
                }
                elements = product
            }
            guard case .array(let offsets)? = f["data_offsets"], offsets.count == 2,
                  case .integer(let b) = offsets[0], case .integer(let e) = offsets[1], b >= 0, e >= b else {
                throw SafetensorsError.invalidHeader(file: file, reason: "entry '\(name)' has invalid data_offsets")
            }
            guard e <= Int64(dataSize) else {
                throw SafetensorsError.offsetOutOfBounds(file: file, tensor: name, end: Int(clamping: e), dataSize: dataSize)
            }
            let expected = elements * dtype.byteSize
            guard Int(e - b) == expected else {
                throw SafetensorsError.sizeMismatch(file: file, tensor: name, expectedBytes: expected, actualBytes: Int(e - b))
            }
            entries[name] = SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: Int(b), end: Int(e))
        }
        let ordered = entries.values.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.begin < previous.end {
            throw SafetensorsError.overlap(file: file, tensor: next.name, other: previous.name)
        }
        return (entries, metadata)
    }

    /// The raw bytes of a tensor.
    public func rawBytes(_ name: String) throws -> UnsafeRawBufferPointer {
        guard let e = entries[name] else { throw SafetensorsError.missingTensor(file: path, tensor: name) }
        return UnsafeRawBufferPointer(start: base + dataOffset + e.begin, count: e.end - e.begin)
    }

    /// Tells the kernel that the pages holding only this tensor's bytes will not be needed
    /// (after a model has copied the tensor into another layout), so they stop counting
    /// toward resident memory. Reading the tensor again still works: the pages come back
    /// from the file.
    public func releasePages(of name: String) {
        guard let e = entries[name] else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) + dataOffset + e.begin
        let end = Int(bitPattern: base) + dataOffset + e.end
        let alignedStart = (start + page - 1) / page * page, alignedEnd = end / page * page
        guard alignedEnd > alignedStart, let p = UnsafeMutableRawPointer(bitPattern: alignedStart) else { return }
        _ = madvise(p, alignedEnd - alignedStart, MADV_DONTNEED)
    }

    /// The same for every tensor of the file: its mapped pages stop counting toward resident
    /// memory until they are read again (a model between uses, e.g. the text encoder once the
    /// prompts are encoded).
    public func releaseAllPages() {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = Int(bitPattern: base) + dataOffset, end = Int(bitPattern: base) + mappedLength
        let alignedStart = (start + page - 1) / page * page, alignedEnd = end / page * page
        guard alignedEnd > alignedStart, let p = UnsafeMutableRawPointer(bitPattern: alignedStart) else { return }
        _ = madvise(p, alignedEnd - alignedStart, MADV_DONTNEED)
    }

    /// An integer tensor's values (I64 or I32), e.g. the position_ids buffer older transformers
    /// checkpoints carry.
    public func integers(_ name: String) throws -> [Int64] {
        guard let e = entries[name] else { throw SafetensorsError.missingTensor(file: path, tensor: name) }
        let bytes = base + dataOffset + e.begin
        let n = e.shape.reduce(1, *)
        switch e.dtype {
        case .i64: return (0..<n).map { Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return (0..<n).map { Int64(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) }
        default: throw SafetensorsError.unsupportedDType(file: path, tensor: name, dtype: e.dtype.rawValue)
        }
    }

    /// A tensor as Float32 (F32 without a copy when aligned; F16, BF16 and F64 converted).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw SafetensorsError.missingTensor(file: path, tensor: name) }
        let bytes = base + dataOffset + e.begin
        let n = e.shape.reduce(1, *)
        switch e.dtype {
        case .f32:
            if Int(bitPattern: bytes) % MemoryLayout<Float>.alignment == 0 {
                let storage = TensorStorage(borrowing: bytes.assumingMemoryBound(to: Float.self), count: n, owner: self)
                return try Tensor(shape: e.shape, storage: storage)
            }
            return Tensor(shape: e.shape) { d in
                for i in 0..<n { d[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            }
        case .f16:
            return Tensor(shape: e.shape) { d in
                Parallelism.forEachRange(n, minimumPerTask: 65536) { range in
                    ck_widen_halves(bytes + 2 * range.lowerBound, d + range.lowerBound, Int64(range.count))
                }
            }
        case .bf16:
            return Tensor(shape: e.shape) { d in
                for i in 0..<n {
                    d[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                }
            }
        case .f64:
            return Tensor(shape: e.shape) { d in
                for i in 0..<n { d[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            }
        default:
            throw SafetensorsError.unsupportedDType(file: path, tensor: name, dtype: e.dtype.rawValue)
        }
    }
}

// Typed errors for reading and writing safetensors files; each names the file and, where
// there is one, the tensor.

public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(file: String, reason: String)
    case truncated(file: String, reason: String)
    case headerTooLarge(file: String, length: UInt64, limit: UInt64)
    case invalidHeader(file: String, reason: String)
    case duplicateTensor(file: String, tensor: String)
    case unknownDType(file: String, tensor: String, dtype: String)
    case invalidShape(file: String, tensor: String, reason: String)
    case sizeMismatch(file: String, tensor: String, expectedBytes: Int, actualBytes: Int)
    case offsetOutOfBounds(file: String, tensor: String, end: Int, dataSize: Int)
    case overlap(file: String, tensor: String, other: String)
    case missingTensor(file: String, tensor: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case writeFailed(file: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let f, let r): return "\(f): cannot open: \(r)"
        case .truncated(let f, let r): return "\(f): truncated file: \(r)"
        case .headerTooLarge(let f, let n, let limit): return "\(f): header length \(n) exceeds the limit of \(limit) bytes"
        case .invalidHeader(let f, let r): return "\(f): invalid header: \(r)"
        case .duplicateTensor(let f, let t): return "\(f): tensor '\(t)' appears twice in the header"
        case .unknownDType(let f, let t, let d): return "\(f): tensor '\(t)' has unknown dtype '\(d)'"
        case .invalidShape(let f, let t, let r): return "\(f): tensor '\(t)' has an invalid shape: \(r)"
        case .sizeMismatch(let f, let t, let e, let a): return "\(f): tensor '\(t)' needs \(e) bytes for its dtype and shape but its data_offsets span \(a)"
        case .offsetOutOfBounds(let f, let t, let e, let s): return "\(f): tensor '\(t)' ends at byte \(e), past the data area of \(s) bytes"
        case .overlap(let f, let t, let o): return "\(f): tensor '\(t)' overlaps tensor '\(o)'"
        case .missingTensor(let f, let t): return "\(f): no tensor named '\(t)'"
        case .unsupportedDType(let f, let t, let d): return "\(f): tensor '\(t)' has dtype \(d), which cannot be read as Float32"
        case .writeFailed(let f, let r): return "\(f): write failed: \(r)"
        }
    }
}

// Errors raised while loading or running a model; each names the file, tensor or field.

public enum ModelError: Error, Equatable, CustomStringConvertible {
    case missingFile(path: String)
    case unreadableFile(path: String, reason: String)
    case invalidConfiguration(file: String, reason: String)
    case unsupportedConfiguration(file: String, field: String, value: String)
    case missingTensor(file: String, tensor: String, expectedShape: [Int])
    case tensorShapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    case unexpectedTensors(file: String, tensors: [String])
    /// Values a tensor holds that its use cannot take (a weight past the half range with
    /// `--weights f16`, a non-finite one with int8).
    case invalidTensorValues(file: String, tensor: String, reason: String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): no such file"
        case .unreadableFile(let p, let r): return "\(p): \(r)"
        case .invalidConfiguration(let f, let r): return "\(f): invalid configuration: \(r)"
        case .unsupportedConfiguration(let f, let field, let v):
            return "\(f): configuration field '\(field)' = \(v) is not supported by stylediff"
        case .missingTensor(let f, let t, let s): return "\(f): missing tensor '\(t)' (expected shape \(s))"
        case .tensorShapeMismatch(let f, let t, let e, let a):
            return "\(f): tensor '\(t)' has shape \(a), expected \(e)"
        case .unexpectedTensors(let f, let ts):
            let shown = ts.prefix(5).joined(separator: ", ")
            return "\(f): \(ts.count) unexpected tensor(s): \(shown)\(ts.count > 5 ? ", ..." : "")"
        case .invalidTensorValues(let f, let t, let r): return "\(f): tensor '\(t)': \(r)"
        case .invalidInput(let r): return "invalid input: \(r)"
        }
    }
}

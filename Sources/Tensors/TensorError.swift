// Errors thrown by tensor operations on bad shapes or arguments.

public enum TensorError: Error, Equatable, CustomStringConvertible {
    /// A shape that cannot exist or does not fit the data.
    case invalidShape(String)
    /// Operand shapes that do not agree.
    case shapeMismatch(String)
    /// An argument outside its valid range (groups, stride, ...).
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidShape(let m): return "invalid shape: \(m)"
        case .shapeMismatch(let m): return "shape mismatch: \(m)"
        case .invalidArgument(let m): return "invalid argument: \(m)"
        }
    }
}

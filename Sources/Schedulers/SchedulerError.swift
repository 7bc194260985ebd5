// Errors from scheduler configuration and use.

public enum SchedulerError: Error, Equatable, CustomStringConvertible {
    case invalidConfiguration(file: String, reason: String)
    case unsupported(field: String, value: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .invalidConfiguration(let f, let r): return "\(f): invalid scheduler configuration: \(r)"
        case .unsupported(let field, let value): return "scheduler configuration field '\(field)' = \(value) is not supported by stylediff"
        case .invalidArgument(let r): return "scheduler: \(r)"
        }
    }
}

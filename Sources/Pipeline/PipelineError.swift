// Errors of the sampling pipeline.

public enum PipelineError: Error, Equatable, CustomStringConvertible {
    case missingComponent(String)
    case invalidRequest(String)
    case cancelled

    public var description: String {
        switch self {
        case .missingComponent(let m): return "model folder: \(m)"
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .cancelled: return "cancelled"
        }
    }
}

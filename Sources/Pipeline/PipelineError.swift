// Errors of the sampling pipeline.

public enum PipelineError: Error, Equatable, CustomStringConvertible {
    /// A part of the model folder is missing (exit 66 in the CLI).
    case missingComponent(String)
    /// The model folder is there but malformed (exit 65).
    case invalidModel(String)
    case invalidRequest(String)
    /// NaN or infinity in the latents or the image: what went wrong and where.
    case nonFinite(String)
    case cancelled

    public var description: String {
        switch self {
        case .missingComponent(let m): return "model folder: \(m)"
        case .invalidModel(let m): return "model folder: \(m)"
        case .invalidRequest(let m): return "invalid request: \(m)"
        case .nonFinite(let m): return "numerical failure: \(m)"
        case .cancelled: return "cancelled"
        }
    }
}

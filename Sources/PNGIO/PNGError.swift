// Errors from PNG reading and writing; each names the file (or "<memory>") and the problem.

public enum PNGError: Error, Equatable, CustomStringConvertible {
    case cannotRead(file: String, reason: String)
    case notPNG(file: String)
    case corrupt(file: String, reason: String)
    case tooLarge(file: String, width: Int, height: Int, limit: Int)
    case decodeFailed(file: String, reason: String)
    case encodeFailed(reason: String)
    case invalidImage(reason: String)
    case invalidTextChunk(reason: String)
    case cannotWrite(file: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let f, let r): return "\(f): cannot read: \(r)"
        case .notPNG(let f): return "\(f): not a PNG file (bad signature)"
        case .corrupt(let f, let r): return "\(f): corrupt PNG: \(r)"
        case .tooLarge(let f, let w, let h, let limit): return "\(f): image is \(w)x\(h) = \(w * h) pixels, over the limit of \(limit)"
        case .decodeFailed(let f, let r): return "\(f): libpng could not decode: \(r)"
        case .encodeFailed(let r): return "PNG encoding failed: \(r)"
        case .invalidImage(let r): return "invalid image: \(r)"
        case .invalidTextChunk(let r): return "invalid PNG text chunk: \(r)"
        case .cannotWrite(let f, let r): return "\(f): cannot write: \(r)"
        }
    }
}

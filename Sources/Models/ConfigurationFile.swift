// Reading diffusers config.json files strictly through FileAccess.JSONConfigFile (errors as
// ModelError), int-or-list fields, and the bounds of counts and sizes against the weights.

import FileAccess
import Foundation
import SafeTensors

/// A config value that diffusers accepts either as one value or as one per block.
public enum OneOrMany<T: Decodable & Equatable>: Decodable, Equatable {
    case one(T)
    case many([T])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(T.self) { self = .one(v) } else { self = .many(try c.decode([T].self)) }
    }

    /// One value per block.
    public func expanded(_ count: Int, field: String, file: String) throws -> [T] {
        switch self {
        case .one(let v): return Array(repeating: v, count: count)
        case .many(let vs):
            guard vs.count == count else {
                throw ModelError.invalidConfiguration(file: file, reason: "'\(field)' has \(vs.count) entries for \(count) blocks")
            }
            return vs
        }
    }
}

/// JSONConfigFile with its errors as ModelError (naming the file and field).
struct ConfigurationFile {
    let file: JSONConfigFile
    var path: String { file.path }

    init(path: String) throws {
        do { file = try JSONConfigFile(path: path) } catch { throw ModelError(error) }
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do { return try file.decode(type) } catch { throw ModelError(error) }
    }

    func checkUntypedFields(typed: Set<String>, implemented: [String: Any] = [:], ignored: Set<String> = []) throws {
        do { try file.checkUntypedFields(typed: typed, implemented: implemented, ignored: ignored) } catch { throw ModelError(error) }
    }
}

extension ModelError {
    /// A ConfigurationError (or any other error) as a ModelError.
    init(_ error: any Error) {
        switch error {
        case let e as ModelError: self = e
        case ConfigurationError.missing(let f): self = .missingFile(path: f)
        case ConfigurationError.unreadable(let f, let r): self = .unreadableFile(path: f, reason: r)
        case ConfigurationError.invalid(let f, let r): self = .invalidConfiguration(file: f, reason: r)
        case ConfigurationError.unsupported(let f, let field, let v): self = .unsupportedConfiguration(file: f, field: field, value: v)
        default: self = .invalidConfiguration(file: "", reason: "\(error)")
        }
    }
}

/// Bounds for the counts and sizes a config.json gives, taken from the weight file it
/// describes: a layer without tensors cannot exist (counts up to the file's tensor count) and no
/// width exceeds the largest dimension stored. Checked before any count sizes a loop or an
/// allocation, so hostile values (negative, zero, 2^62) are errors naming the field.
public struct ConfigurationLimits {
    public let file: String
    public let tensorCount: Int
    public let largestDimension: Int

    /// `file` names the checked configuration in errors.
    public init(config file: String, weights: SafetensorsFile) {
        self.file = file
        tensorCount = weights.entries.count
        largestDimension = weights.entries.values.flatMap(\.shape).max() ?? 0
    }

    /// A number of layers or blocks: `minimum`...(tensors in the file).
    public func count(_ value: Int, _ field: String, minimum: Int = 1) throws {
        guard value >= minimum, value <= max(tensorCount, minimum) else {
            throw ModelError.invalidConfiguration(
                file: file, reason: "'\(field)' = \(value) must be between \(minimum) and \(tensorCount) (the tensors in the weight file)")
        }
    }

    /// A list of block widths: 1...16 blocks (and no more than the file's tensors), each a width.
    public func blocks(_ widths: [Int], _ field: String) throws {
        try count(widths.count, "\(field) (number of blocks)")
        guard widths.count <= 16 else { throw ModelError.invalidConfiguration(file: file, reason: "\(widths.count) blocks; at most 16 are supported") }
        for w in widths { try size(w, field) }
    }

    /// A width (channels, hidden size, vocabulary): 1...(largest dimension in the file).
    public func size(_ value: Int, _ field: String) throws {
        guard value >= 1, value <= largestDimension else {
            throw ModelError.invalidConfiguration(
                file: file, reason: "'\(field)' = \(value) must be between 1 and \(largestDimension) (the largest tensor dimension in the weight file)")
        }
    }

    /// A finite float.
    public func finite(_ value: Float, _ field: String) throws {
        guard value.isFinite else { throw ModelError.invalidConfiguration(file: file, reason: "'\(field)' = \(value) must be finite") }
    }
}

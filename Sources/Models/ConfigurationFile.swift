// Reading diffusers config.json files strictly: typed fields by their diffusers names, plus
// a check that every other field is either known to be harmless at inference or holds the
// one value stylediff implements. A field that would change the maths is never ignored.

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
    func expanded(_ count: Int, field: String, file: String) throws -> [T] {
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

struct ConfigurationFile {
    let path: String
    let data: Data
    let fields: [String: Any]

    init(path: String) throws {
        let data: Data
        do {
            data = Data(try FileAccess.read(path, limit: 16 << 20))
        } catch FileAccessError.missing {
            throw ModelError.missingFile(path: path)
        } catch {
            throw ModelError.unreadableFile(path: path, reason: "\(error)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data), let fields = object as? [String: Any] else {
            throw ModelError.invalidConfiguration(file: path, reason: "not a JSON object")
        }
        self.path = path
        self.data = data
        self.fields = fields
    }

    /// Decodes the typed configuration, turning decoding errors into messages naming the field.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ModelError.invalidConfiguration(file: path, reason: "field '\(field)': \(context.debugDescription)")
        } catch DecodingError.keyNotFound(let key, _) {
            throw ModelError.invalidConfiguration(file: path, reason: "missing field '\(key.stringValue)'")
        } catch {
            throw ModelError.invalidConfiguration(file: path, reason: "\(error)")
        }
    }

    /// Checks fields beyond the typed ones: `implemented` maps a field to the only value
    /// supported (JSON null as NSNull); `ignored` lists fields without effect at inference;
    /// `typed` lists the fields the typed configuration reads. Anything else is an error.
    func checkUntypedFields(typed: Set<String>, implemented: [String: Any], ignored: Set<String>) throws {
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("_") || typed.contains(key) || ignored.contains(key) { continue }
            guard let supported = implemented[key] else {
                throw ModelError.unsupportedConfiguration(file: path, field: key, value: render(value))
            }
            if !same(value, supported) {
                throw ModelError.unsupportedConfiguration(file: path, field: key, value: render(value))
            }
        }
    }

    private func same(_ a: Any, _ b: Any) -> Bool {
        if a is NSNull || b is NSNull { return a is NSNull && b is NSNull }
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = a as? NSNumber, let y = b as? NSNumber { return x == y }
        return false
    }

    private func render(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let s = value as? String { return "\"\(s)\"" }
        if let d = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: d, as: UTF8.self)
        }
        return "\(value)"
    }
}

/// Bounds for the counts and sizes a config.json gives, taken from the weight file it
/// describes: a layer without tensors cannot exist (counts up to the file's tensor count) and no
/// width exceeds the largest dimension stored. Checked before any count sizes a loop or an
/// allocation, so hostile values (negative, zero, 2^62) are errors naming the field.
struct ConfigurationLimits {
    let file: String
    let tensorCount: Int
    let largestDimension: Int

    init(config file: String, weights: SafetensorsFile) {
        self.file = file
        tensorCount = weights.entries.count
        largestDimension = weights.entries.values.flatMap(\.shape).max() ?? 0
    }

    /// A number of layers or blocks: `minimum`...(tensors in the file).
    func count(_ value: Int, _ field: String, minimum: Int = 1) throws {
        guard value >= minimum, value <= max(tensorCount, minimum) else {
            throw ModelError.invalidConfiguration(
                file: file, reason: "'\(field)' = \(value) must be between \(minimum) and \(tensorCount) (the tensors in the weight file)")
        }
    }

    /// A list of block widths: 1...16 blocks (and no more than the file's tensors), each a width.
    func blocks(_ widths: [Int], _ field: String) throws {
        try count(widths.count, "\(field) (number of blocks)")
        guard widths.count <= 16 else { throw ModelError.invalidConfiguration(file: file, reason: "\(widths.count) blocks; at most 16 are supported") }
        for w in widths { try size(w, field) }
    }

    /// A width (channels, hidden size, vocabulary): 1...(largest dimension in the file).
    func size(_ value: Int, _ field: String) throws {
        guard value >= 1, value <= largestDimension else {
            throw ModelError.invalidConfiguration(
                file: file, reason: "'\(field)' = \(value) must be between 1 and \(largestDimension) (the largest tensor dimension in the weight file)")
        }
    }

    /// A finite float.
    func finite(_ value: Float, _ field: String) throws {
        guard value.isFinite else { throw ModelError.invalidConfiguration(file: file, reason: "'\(field)' = \(value) must be finite") }
    }
}

// The one strict reader of JSON configuration files (model configs, scheduler_config.json,
// sampling_defaults.json): read as a bounded regular file (FileAccess.read), a JSON object
// required, typed fields decoded by their file names with errors naming the field, and every
// other field either known to be harmless or holding the one value implemented. A field that
// would change the maths is never ignored. Callers map ConfigurationError onto their own error
// type (ModelError, SchedulerError, PipelineError).

import Foundation

public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    case missing(file: String)
    case unreadable(file: String, reason: String)
    case invalid(file: String, reason: String)
    case unsupported(file: String, field: String, value: String)

    public var description: String {
        switch self {
        case .missing(let f): return "\(f): no such file"
        case .unreadable(let f, let r): return "\(f): \(r)"
        case .invalid(let f, let r): return "\(f): invalid configuration: \(r)"
        case .unsupported(let f, let field, let v): return "\(f): configuration field '\(field)' = \(v) is not supported by stylediff"
        }
    }
}

public struct JSONConfigFile {
    /// Largest configuration file read (16 MiB; diffusers configs are a few KB).
    public static let maximumBytes = 16 << 20

    public let path: String
    public let data: Data
    public let fields: [String: Any]

    /// Reads the file at `path`.
    public init(path: String) throws {
        let data: Data
        do {
            data = Data(try FileAccess.read(path, limit: Self.maximumBytes))
        } catch FileAccessError.missing {
            throw ConfigurationError.missing(file: path)
        } catch {
            throw ConfigurationError.unreadable(file: path, reason: "\(error)")
        }
        try self.init(data: data, path: path)
    }

    /// Parses bytes already read; `path` names them in errors.
    public init(data: Data, path: String) throws {
        self.data = data
        guard let object = try? JSONSerialization.jsonObject(with: data), let fields = object as? [String: Any] else {
            throw ConfigurationError.invalid(file: path, reason: "not a JSON object")
        }
        self.path = path
        self.fields = fields
    }

    /// Decodes the typed configuration, turning decoding errors into messages naming the field.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw ConfigurationError.invalid(file: path, reason: "field '\(Self.field(context))': \(context.debugDescription)")
        } catch DecodingError.dataCorrupted(let context) {
            // An unknown value of a string choice (Codable enum) or a malformed value.
            let field = Self.field(context)
            throw ConfigurationError.unsupported(file: path, field: field, value: render(fields[field] as Any))
        } catch DecodingError.keyNotFound(let key, _) {
            throw ConfigurationError.invalid(file: path, reason: "missing field '\(key.stringValue)'")
        } catch {
            throw ConfigurationError.invalid(file: path, reason: "\(error)")
        }
    }

    private static func field(_ context: DecodingError.Context) -> String {
        context.codingPath.map(\.stringValue).joined(separator: ".")
    }

    /// Checks fields beyond the typed ones: `implemented` maps a field to the only value
    /// supported (JSON null as NSNull); `ignored` lists fields without effect at inference;
    /// `typed` lists the fields the typed configuration reads; names starting with "_" are
    /// bookkeeping. Anything else is ConfigurationError.unsupported.
    public func checkUntypedFields(typed: Set<String>, implemented: [String: Any] = [:], ignored: Set<String> = []) throws {
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            if key.hasPrefix("_") || typed.contains(key) || ignored.contains(key) { continue }
            guard let supported = implemented[key], same(value, supported) else {
                throw ConfigurationError.unsupported(file: path, field: key, value: render(value))
            }
        }
    }

    /// A JSON number's value; nil for anything else. Foundation gives numbers and booleans as
    /// NSNumber (and `is Bool` holds for the numbers 0 and 1), so booleans are told apart by
    /// their type code.
    public static func number(_ value: Any) -> Double? {
        guard let n = value as? NSNumber, String(cString: n.objCType) != "c" else { return nil }
        return n.doubleValue
    }

    /// A JSON boolean's value; nil for anything else (the numbers 0 and 1 included).
    public static func boolean(_ value: Any) -> Bool? {
        guard let n = value as? NSNumber, String(cString: n.objCType) == "c" else { return nil }
        return n.boolValue
    }

    private func same(_ a: Any, _ b: Any) -> Bool {
        if a is NSNull || b is NSNull { return a is NSNull && b is NSNull }
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = a as? NSNumber, let y = b as? NSNumber { return x == y }
        return false
    }

    /// A value as JSON text (strings quoted, null as null).
    public func render(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let s = value as? String { return "\"\(s)\"" }
        if let d = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) {
            return String(decoding: d, as: UTF8.self)
        }
        return "\(value)"
    }
}

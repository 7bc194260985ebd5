// A request body's JSON object with typed field access for the API routes: a field of the
// wrong type is APIError 422 naming it; an absent or null field is nil.

import FileAccess
import Foundation

struct JSONFields {
    let object: [String: Any]

    /// Parses `body`; anything but a JSON object is 400.
    init(_ body: [UInt8]) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            throw APIError(status: 400, "the body must be a JSON object")
        }
        self.object = object
    }

    func string(_ key: String) throws -> String? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let s = v as? String else { throw APIError(status: 422, "field '\(key)' must be a string") }
        return s
    }

    func number(_ key: String) throws -> Double? {
        guard let v = object[key], !(v is NSNull) else { return nil }
        guard let n = JSONConfigFile.number(v) else { throw APIError(status: 422, "field '\(key)' must be a number") }
        return n
    }

    func integer(_ key: String) throws -> Int? {
        guard let n = try number(key) else { return nil }
        guard let i = Int(exactly: n) else { throw APIError(status: 422, "field '\(key)' must be a whole number") }
        return i
    }
}

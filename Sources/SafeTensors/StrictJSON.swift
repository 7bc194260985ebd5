// A small strict JSON parser for safetensors headers. Unlike JSONSerialization it rejects
// duplicate object keys (a safetensors file with two entries of one name is malformed) and
// keeps integers exact.

enum JSONValue: Equatable {
    case object([(String, JSONValue)])
    case array([JSONValue])
    case string(String)
    case integer(Int64)
    case number(Double)
    case bool(Bool)
    case null

    static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.object(let x), .object(let y)): return x.map(\.0) == y.map(\.0) && x.map(\.1) == y.map(\.1)
        case (.array(let x), .array(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.integer(let x), .integer(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.bool(let x), .bool(let y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }
}

struct StrictJSONParser {
    enum Failure: Error { case syntax(String, offset: Int), duplicateKey(String) }

    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = StrictJSONParser(bytes: bytes)
        p.skipSpace()
        let v = try p.value()
        p.skipSpace()
        guard p.i == bytes.count else { throw Failure.syntax("trailing characters", offset: p.i) }
        return v
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func expect(_ c: UInt8) throws {
        guard i < bytes.count, bytes[i] == c else {
            throw Failure.syntax("expected '\(Character(UnicodeScalar(c)))'", offset: i)
        }
        i += 1
    }

    private mutating func value() throws -> JSONValue {
        guard i < bytes.count else { throw Failure.syntax("unexpected end", offset: i) }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return try number()
        }
    }

    private mutating func literal(_ word: String) throws {
        for c in word.utf8 { try expect(c) }
    }

    private mutating func nest() throws {
        depth += 1
        guard depth <= 64 else { throw Failure.syntax("nesting deeper than 64", offset: i) }
    }

    private mutating func object() throws -> JSONValue {
        try expect(UInt8(ascii: "{")); try nest(); defer { depth -= 1 }
        var members: [(String, JSONValue)] = []
        var seen = Set<String>()
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipSpace()
            let key = try string()
            guard seen.insert(key).inserted else { throw Failure.duplicateKey(key) }
            skipSpace(); try expect(UInt8(ascii: ":")); skipSpace()
            members.append((key, try value()))
            skipSpace()
            guard i < bytes.count else { throw Failure.syntax("unterminated object", offset: i) }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "}"))
            return .object(members)
        }
    }

    private mutating func array() throws -> JSONValue {
        try expect(UInt8(ascii: "[")); try nest(); defer { depth -= 1 }
        var items: [JSONValue] = []
        skipSpace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value())
            skipSpace()
            guard i < bytes.count else { throw Failure.syntax("unterminated array", offset: i) }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            try expect(UInt8(ascii: "]"))
            return .array(items)
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw Failure.syntax("bad \\u escape", offset: i)
        }
        i += 4
        return v
    }

    private mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw Failure.syntax("unterminated string", offset: i) }
            let c = bytes[i]; i += 1
            if c == UInt8(ascii: "\"") { break }
            if c < 0x20 { throw Failure.syntax("control character in string", offset: i - 1) }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard i < bytes.count else { throw Failure.syntax("unterminated escape", offset: i) }
            let e = bytes[i]; i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    try expect(UInt8(ascii: "\\")); try expect(UInt8(ascii: "u"))
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw Failure.syntax("bad surrogate pair", offset: i) }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { throw Failure.syntax("bad code point", offset: i) }
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: throw Failure.syntax("bad escape", offset: i - 1)
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw Failure.syntax("invalid UTF-8", offset: i) }
        return s
    }

    private mutating func number() throws -> JSONValue {
        let start = i
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        var isInteger = true
        while i < bytes.count {
            let c = bytes[i]
            if c >= 0x30 && c <= 0x39 { i += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                isInteger = false; i += 1; continue
            }
            break
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInteger, let v = Int64(text) { return .integer(v) }
        guard let d = Double(text), !text.isEmpty else { throw Failure.syntax("bad value", offset: start) }
        return .number(d)
    }
}

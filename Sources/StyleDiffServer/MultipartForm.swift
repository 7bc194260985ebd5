// A multipart/form-data body (RFC 7578 over RFC 2046) as named parts: what the OpenAI Images
// API's edits route receives (files and text fields). Anything not well-formed (no boundary, no
// opening or closing delimiter, a part without headers' end or without a name, more than 64
// parts) is APIError 400.
//
// Parsed here rather than by MultipartKit: 4.7.1, the version available offline, traps on a
// header-name byte >= 0x80 (an index out of range in its character table, found by
// RequestParsingTests' mutations), which would let any client stop the server.

import Foundation

struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var bytes: [UInt8]
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    static let maximumParts = 64

    let parts: [Part]

    /// Parses `body` with the boundary of `contentType` (`multipart/form-data; boundary=...`).
    init(body: [UInt8], contentType: String?) throws {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw APIError(status: 400, "the body must be multipart/form-data")
        }
        let parameters = Self.parameters(contentType)
        guard let boundary = parameters["boundary"], (1...70).contains(boundary.utf8.count) else {
            throw APIError(status: 400, "multipart/form-data without a boundary (1-70 characters)")
        }
        let data = Data(body)
        let delimiter = Data(("--" + boundary).utf8), separator = Data(("\r\n--" + boundary).utf8)
        let crlf = Data("\r\n".utf8), headersEnd = Data("\r\n\r\n".utf8)
        // The first delimiter opens the body (at its start or after a preamble line).
        var position: Int
        if data.starts(with: delimiter) {
            position = delimiter.count
        } else if let first = data.range(of: separator) {
            position = first.upperBound
        } else {
            throw APIError(status: 400, "malformed multipart/form-data body: no delimiter --\(boundary)")
        }
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" closes the body, CRLF starts a part.
            if data[position...].starts(with: Data("--".utf8)) { break }
            guard data[position...].starts(with: crlf) else {
                throw APIError(status: 400, "malformed multipart/form-data body: a delimiter is not followed by CRLF or --")
            }
            position += 2
            guard parts.count < Self.maximumParts else { throw APIError(status: 400, "more than \(Self.maximumParts) multipart parts") }
            let headerBlock: Data
            let contentStart: Int
            if data[position...].starts(with: crlf) {
                (headerBlock, contentStart) = (Data(), position + 2)  // a part without headers
            } else {
                guard let end = data.range(of: headersEnd, in: position..<data.count) else {
                    throw APIError(status: 400, "malformed multipart/form-data body: a part's headers do not end")
                }
                (headerBlock, contentStart) = (data[position..<end.lowerBound], end.upperBound)
            }
            guard let next = data.range(of: separator, in: contentStart..<data.count) else {
                throw APIError(status: 400, "malformed multipart/form-data body: no closing delimiter --\(boundary)--")
            }
            parts.append(try Self.part(headers: headerBlock, content: data[contentStart..<next.lowerBound]))
            position = next.upperBound
        }
        guard !parts.isEmpty else { throw APIError(status: 400, "multipart/form-data body without parts") }
        self.parts = parts
    }

    /// One part from its header lines and content.
    static func part(headers: Data, content: Data) throws -> Part {
        var disposition: String?
        for line in String(decoding: headers, as: UTF8.self).components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), colon > line.startIndex,
                  line[..<colon].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) }) else {
                throw APIError(status: 400, "malformed multipart header line '\(line.prefix(80))'")
            }
            if line[..<colon].lowercased() == "content-disposition" {
                disposition = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            }
        }
        let fields = disposition.map(parameters) ?? [:]
        guard let disposition, disposition.lowercased().hasPrefix("form-data"), let name = fields["name"] else {
            throw APIError(status: 400, "a multipart part has no Content-Disposition: form-data; name=...")
        }
        return Part(name: name, filename: fields["filename"], bytes: Array(content))
    }

    /// The `key=value` parameters after the first `;` of a header value (values may be quoted,
    /// with `;` and `\"` inside quotes); keys lower-cased.
    static func parameters(_ value: String) -> [String: String] {
        var result: [String: String] = [:]
        var chars = Substring(value)
        guard let semicolon = chars.firstIndex(of: ";") else { return result }
        chars = chars[chars.index(after: semicolon)...]
        while !chars.isEmpty {
            chars = chars.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = chars.firstIndex(of: "=") else { break }
            let key = chars[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            chars = chars[chars.index(after: equals)...]
            var parsed = ""
            if chars.first == "\"" {
                chars = chars.dropFirst()
                var escaped = false
                while let c = chars.first {
                    chars = chars.dropFirst()
                    if escaped {
                        parsed.append(c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        break
                    } else {
                        parsed.append(c)
                    }
                }
                chars = chars.drop { $0 != ";" }
            } else {
                let end = chars.firstIndex(of: ";") ?? chars.endIndex
                parsed = chars[..<end].trimmingCharacters(in: .whitespaces)
                chars = chars[end...]
            }
            if !key.isEmpty, result[key] == nil { result[key] = parsed }
        }
        return result
    }
}

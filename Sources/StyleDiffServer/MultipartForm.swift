// A multipart/form-data body (RFC 7578) as named parts, parsed by MultipartKit: what the OpenAI
// Images API's edits route receives (files and text fields). A body that is not well-formed
// multipart, or a part without a name, is 400.

import Foundation
import MultipartKit

struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var bytes: [UInt8]
        var text: String { String(decoding: bytes, as: UTF8.self) }
    }

    let parts: [Part]

    /// Parses `body` with the boundary of `contentType` (`multipart/form-data; boundary=...`).
    init(body: [UInt8], contentType: String?) throws {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else {
            throw APIError(status: 400, "the body must be multipart/form-data")
        }
        let parameters = contentType.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
        guard let raw = parameters.first(where: { $0.lowercased().hasPrefix("boundary=") })?.dropFirst("boundary=".count),
              !raw.isEmpty else {
            throw APIError(status: 400, "multipart/form-data without a boundary")
        }
        let boundary = raw.hasPrefix("\"") && raw.hasSuffix("\"") && raw.count >= 2 ? String(raw.dropFirst().dropLast()) : String(raw)
        let parser = MultipartParser(boundary: boundary)
        var parts: [MultipartPart] = []
        var headers: [(String, String)] = []
        var current: [UInt8] = []
        parser.onHeader = { headers.append(($0, $1)) }
        parser.onBody = { current += $0.readBytes(length: $0.readableBytes) ?? [] }
        parser.onPartComplete = {
            var part = MultipartPart(body: current)
            for (name, value) in headers { part.headers.add(name: name, value: value) }
            parts.append(part)
            (headers, current) = ([], [])
        }
        do {
            try parser.execute(body)
        } catch {
            throw APIError(status: 400, "malformed multipart/form-data body: \(error)")
        }
        guard !parts.isEmpty else { throw APIError(status: 400, "multipart/form-data body without parts (boundary \(boundary))") }
        self.parts = try parts.map { part in
            guard let name = part.name else { throw APIError(status: 400, "a multipart part has no name (Content-Disposition)") }
            let filename = part.headers.first(name: "Content-Disposition")?
                .split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
                .first { $0.hasPrefix("filename=") }.map { String($0.dropFirst("filename=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            return Part(name: name, filename: filename, bytes: Array(buffer: part.body))
        }
    }
}

// PNG chunk structure (PNG spec, section 5): validation of the chunk sequence with CRC-32,
// reading tEXt/iTXt text chunks, and splicing new text chunks in before IEND.

import Foundation

/// One text chunk: a Latin-1 keyword (1-79 bytes) and its text.
public struct PNGTextChunk: Equatable, Sendable {
    public let keyword: String
    public let text: String

    public init(keyword: String, text: String) throws {
        guard (1...79).contains(keyword.utf8.count), keyword.unicodeScalars.allSatisfy({ $0.value >= 32 && $0.value <= 126 }),
              !keyword.hasPrefix(" "), !keyword.hasSuffix(" ") else {
            throw PNGError.invalidTextChunk(reason: "keyword '\(keyword)' must be 1-79 printable ASCII characters without leading or trailing spaces")
        }
        self.keyword = keyword
        self.text = text
    }
}

public enum PNGChunks {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    struct Chunk {
        let type: String
        let dataRange: Range<Int>
        /// Offset of the chunk's length field.
        let start: Int
    }

    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// `d` with the CRC of every whole chunk recomputed (the walk stops where the chunk
    /// structure ends): lets a fuzzer's mutations reach libpng instead of failing the CRC check.
    public static func repairingCRCs(_ d: [UInt8]) -> [UInt8] {
        guard d.count >= 8 else { return d }
        var out = d
        var i = 8
        while i + 12 <= out.count {
            let length = Int(be32(out, i))
            guard length <= 0x7FFF_FFFF, i + 12 + length <= out.count else { break }
            let crc = crc32(out[(i + 4)..<(i + 8 + length)])
            for k in 0..<4 { out[i + 8 + length + k] = UInt8((crc >> (24 - 8 * UInt32(k))) & 0xFF) }
            i += 12 + length
        }
        return out
    }

    static func be32(_ d: [UInt8], _ i: Int) -> UInt32 {
        UInt32(d[i]) << 24 | UInt32(d[i + 1]) << 16 | UInt32(d[i + 2]) << 8 | UInt32(d[i + 3])
    }

    /// Walks and checks every chunk: signature, lengths inside the file, CRCs, IHDR first,
    /// IEND last. A file cut short anywhere fails here.
    static func parse(_ d: [UInt8], file: String) throws -> [Chunk] {
        guard d.count >= 8, Array(d[0..<8]) == signature else { throw PNGError.notPNG(file: file) }
        var chunks: [Chunk] = []
        var i = 8
        while true {
            guard i + 12 <= d.count else {
                throw PNGError.corrupt(file: file, reason: "file ends inside a chunk header at byte \(i) (no IEND)")
            }
            let length = Int(be32(d, i))
            guard length <= 0x7FFF_FFFF, i + 12 + length <= d.count else {
                throw PNGError.corrupt(file: file, reason: "chunk at byte \(i) claims \(length) bytes, past the end of the file")
            }
            let typeBytes = d[(i + 4)..<(i + 8)]
            guard typeBytes.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) }) else {
                throw PNGError.corrupt(file: file, reason: "invalid chunk type at byte \(i)")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            let stored = be32(d, i + 8 + length)
            guard crc32(d[(i + 4)..<(i + 8 + length)]) == stored else {
                throw PNGError.corrupt(file: file, reason: "CRC mismatch in \(type) chunk at byte \(i)")
            }
            if chunks.isEmpty && type != "IHDR" {
                throw PNGError.corrupt(file: file, reason: "first chunk is \(type), not IHDR")
            }
            chunks.append(Chunk(type: type, dataRange: (i + 8)..<(i + 8 + length), start: i))
            i += 12 + length
            if type == "IEND" { return chunks }
        }
    }

    /// Width and height from a parsed IHDR.
    static func dimensions(_ d: [UInt8], _ chunks: [Chunk], file: String) throws -> (Int, Int) {
        guard let ihdr = chunks.first, ihdr.dataRange.count == 13 else {
            throw PNGError.corrupt(file: file, reason: "IHDR is not 13 bytes")
        }
        return (Int(be32(d, ihdr.dataRange.lowerBound)), Int(be32(d, ihdr.dataRange.lowerBound + 4)))
    }

    /// tEXt (Latin-1) and uncompressed iTXt (UTF-8) chunks, in file order.
    static func texts(_ d: [UInt8], _ chunks: [Chunk]) -> [PNGTextChunk] {
        var out: [PNGTextChunk] = []
        for c in chunks where c.type == "tEXt" || c.type == "iTXt" {
            let body = Array(d[c.dataRange])
            guard let nul = body.firstIndex(of: 0) else { continue }
            let keyword = String(decoding: body[..<nul], as: UTF8.self)
            var text: String?
            if c.type == "tEXt" {
                text = String(body[(nul + 1)...].map { Character(Unicode.Scalar($0)) })
            } else if nul + 2 < body.count, body[nul + 1] == 0 {  // uncompressed iTXt
                var j = nul + 3
                guard let langEnd = body[j...].firstIndex(of: 0) else { continue }
                j = langEnd + 1
                guard let transEnd = body[j...].firstIndex(of: 0) else { continue }
                text = String(decoding: body[(transEnd + 1)...], as: UTF8.self)
            }
            if let text, let chunk = try? PNGTextChunk(keyword: keyword, text: text) { out.append(chunk) }
        }
        return out
    }

    /// Encodes one text chunk: tEXt when the text is Latin-1, else uncompressed iTXt.
    static func encode(_ t: PNGTextChunk) -> [UInt8] {
        let type: [UInt8]
        var body = Array(t.keyword.utf8) + [0]
        if t.text.unicodeScalars.allSatisfy({ $0.value < 256 }) {
            type = Array("tEXt".utf8)
            body += t.text.unicodeScalars.map { UInt8($0.value) }
        } else {
            type = Array("iTXt".utf8)
            body += [0, 0, 0, 0] + Array(t.text.utf8)  // flag, method, empty language, empty translated keyword
        }
        var out: [UInt8] = []
        let n = UInt32(body.count)
        out += [UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)]
        out += type + body
        let crc = crc32(type + body)
        out += [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
        return out
    }

    /// `png` with the text chunks inserted just before IEND.
    static func splice(_ png: [UInt8], texts: [PNGTextChunk]) throws -> [UInt8] {
        let chunks = try parse(png, file: "<memory>")
        guard let iend = chunks.last, iend.type == "IEND" else { throw PNGError.encodeFailed(reason: "no IEND") }
        var out = Array(png[..<iend.start])
        for t in texts { out += encode(t) }
        out += png[iend.start...]
        return out
    }
}

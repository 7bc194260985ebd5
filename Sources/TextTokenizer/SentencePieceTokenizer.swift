// SentencePiece model (libsentencepiece, through the CSentencePiece C shim): encode text to
// ids and decode ids to text. Loading a missing or corrupt model throws; the C++ side never
// throws across the boundary.

import CSentencePiece
import FileAccess
import Foundation

public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case cannotLoad(file: String, reason: String)
    case encodeFailed(reason: String)
    case decodeFailed(reason: String)

    public var description: String {
        switch self {
        case .cannotLoad(let f, let r): return "\(f): cannot load the tokenizer: \(r)"
        case .encodeFailed(let r): return "SentencePiece encode failed: \(r)"
        case .decodeFailed(let r): return "SentencePiece decode failed: \(r)"
        }
    }
}

public final class SentencePieceTokenizer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let lock = NSLock()
    public let path: String

    /// Largest model file accepted (64 MiB; real SentencePiece models are a few MB).
    public static let maximumFileBytes = 64 << 20

    /// Loads a `.model` file: a regular file (links followed) of at most `maximumFileBytes`.
    public convenience init(path: String) throws {
        let bytes: [UInt8]
        do {
            bytes = try FileAccess.read(path, limit: Self.maximumFileBytes)
        } catch FileAccessError.missing {
            throw TokenizerError.cannotLoad(file: path, reason: "no such file")
        } catch {
            throw TokenizerError.cannotLoad(file: path, reason: "\(error)")
        }
        try self.init(serialized: bytes, file: path)
    }

    /// Loads a model from the bytes of a `.model` file; `file` names it in errors.
    public init(serialized bytes: [UInt8], file: String = "<memory>") throws {
        var error = [CChar](repeating: 0, count: 512)
        let loaded = bytes.withUnsafeBytes { raw in
            spm_load_from_memory(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, &error, error.count)
        }
        guard let h = loaded else { throw TokenizerError.cannotLoad(file: file, reason: cString(error)) }
        handle = h
        path = file
    }

    deinit { spm_free(handle) }

    public var vocabularySize: Int { Int(spm_vocab_size(handle)) }
    public var unknownID: Int32 { spm_unk_id(handle) }
    /// Beginning-of-sentence id, or -1 when the model has none.
    public var beginID: Int32 { spm_bos_id(handle) }
    /// End-of-sentence id, or -1 when the model has none.
    public var endID: Int32 { spm_eos_id(handle) }
    /// Padding id, or -1 when the model has none.
    public var paddingID: Int32 { spm_pad_id(handle) }

    /// The id of a piece, or the unknown id.
    public func id(ofPiece piece: String) -> Int32 { spm_piece_to_id(handle, piece) }

    /// Encodes UTF-8 text into piece ids (no begin/end ids added).
    public func encode(_ text: String) throws -> [Int32] {
        if text.isEmpty { return [] }
        lock.lock(); defer { lock.unlock() }
        let utf8 = Array(text.utf8)
        var error = [CChar](repeating: 0, count: 512)
        var capacity = max(16, utf8.count + 8)
        while true {
            var ids = [Int32](repeating: 0, count: capacity)
            var count = 0
            let rc = utf8.withUnsafeBufferPointer { u in
                UnsafeRawPointer(u.baseAddress)?.withMemoryRebound(to: CChar.self, capacity: u.count) { p in
                    spm_encode(handle, p, u.count, &ids, capacity, &count, &error, error.count)
                } ?? -1
            }
            guard rc == 0 else { throw TokenizerError.encodeFailed(reason: cString(error)) }
            if count <= capacity { return Array(ids.prefix(count)) }
            capacity = count
        }
    }

    /// Decodes ids into text; ids outside the vocabulary are an error.
    public func decode(_ ids: [Int32]) throws -> String {
        lock.lock(); defer { lock.unlock() }
        var error = [CChar](repeating: 0, count: 512)
        var out: UnsafeMutablePointer<CChar>?
        let rc = spm_decode(handle, ids, ids.count, &out, &error, error.count)
        guard rc == 0, let out else { throw TokenizerError.decodeFailed(reason: cString(error)) }
        defer { spm_free_string(out) }
        return String(cString: out)
    }
}

/// The text of a NUL-terminated C buffer.
private func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

// SHA-256 for the model hash and the input-image hashes in PNG metadata: swift-crypto's
// (BoringSSL's assembly, with the SHA instructions where the CPU has them), which hashes the
// gigabytes of a Stable Diffusion folder in seconds.

import Crypto
import FileAccess
import Foundation

public struct SHA256Digest {
    private var hasher = SHA256()

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    public mutating func update<D: Sequence>(_ data: D) where D.Element == UInt8 {
        if let done = data.withContiguousStorageIfAvailable({ hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }) {
            return done
        }
        let bytes = Array(data)
        bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
    }

    /// The digest as lowercase hex.
    public mutating func finalize() -> String {
        hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    public static func hex<D: Sequence>(_ data: D) -> String where D.Element == UInt8 {
        var d = SHA256Digest()
        d.update(data)
        return d.finalize()
    }

    /// Hash of a regular file's bytes (links followed), read in chunks; devices, FIFOs and
    /// folders are FileAccessError.notRegularFile, never an endless read.
    public static func hex(file path: String) throws -> String {
        var d = SHA256Digest()
        try FileAccess.forEachChunk(path) { d.update($0) }
        return d.finalize()
    }
}

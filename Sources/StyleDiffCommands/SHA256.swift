// SHA-256 for the model hash and the input-image hashes in PNG metadata: OpenSSL's libcrypto
// (EVP API; assembly with the SHA instructions where the CPU has them), which hashes the
// gigabytes of a Stable Diffusion folder in seconds.

import CCrypto
import FileAccess
import Foundation

public final class SHA256Digest {
    private let context: OpaquePointer?

    public init() {
        context = EVP_MD_CTX_new()
        if let context { EVP_DigestInit_ex(context, EVP_sha256(), nil) }
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let context, let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(context, base, bytes.count)
    }

    public func update<D: Sequence>(_ data: D) where D.Element == UInt8 {
        if data.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) != nil { return }
        Array(data).withUnsafeBytes { update($0) }
    }

    /// The digest as lowercase hex (the digest of nothing more can be taken once).
    public func finalize() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        if let context { EVP_DigestFinal_ex(context, &out, &length) }
        return out.map { String(format: "%02x", $0) }.joined()
    }

    public static func hex<D: Sequence>(_ data: D) -> String where D.Element == UInt8 {
        let d = SHA256Digest()
        d.update(data)
        return d.finalize()
    }

    /// Hash of a regular file's bytes (links followed), read in chunks; devices, FIFOs and
    /// folders are FileAccessError.notRegularFile, never an endless read.
    public static func hex(file path: String) throws -> String {
        let d = SHA256Digest()
        try FileAccess.forEachChunk(path) { d.update($0) }
        return d.finalize()
    }
}

// Images sent over HTTP (img2img sources, style references), kept as files named by their
// SHA-256 (`DIR/<sha256>.png`), so a generation record names them like any CLI input and
// `stylediff replay` of a served PNG works on this machine. The same image sent twice is one
// file. Accepted: PNG only, base64 with or without a `data:image/...;base64,` prefix.

import FileAccess
import Foundation
import PNGIO
import StyleDiffCommands

struct UploadStore: Sendable {
    let directory: String

    /// Creates the folder when missing.
    init(directory: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIError(.cannotCreate, "cannot create the upload folder \(directory): \(error.localizedDescription)")
        }
        guard FileAccess.isDirectory(directory) else { throw CLIError(.cannotCreate, "upload folder \(directory) is not a folder") }
        self.directory = directory
    }

    /// The default folder: $STYLEDIFF_CACHE_DIR/uploads, else ~/.cache/stylediff/uploads.
    static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["STYLEDIFF_CACHE_DIR"], !dir.isEmpty { return dir + "/uploads" }
        return (env["HOME"] ?? NSTemporaryDirectory()) + "/.cache/stylediff/uploads"
    }

    /// Decodes a base64 field (`field` names it in errors: 422 for bad base64 or not a PNG).
    static func decodeBase64(_ text: String, field: String) throws -> [UInt8] {
        var payload = Substring(text)
        if payload.hasPrefix("data:") {
            guard let comma = payload.firstIndex(of: ","), payload[..<comma].hasSuffix(";base64") else {
                throw APIError(status: 422, "\(field) is a data URL without ';base64,'")
            }
            payload = payload[payload.index(after: comma)...]
        }
        let compact = payload.filter { !$0.isWhitespace }
        guard !compact.isEmpty, let data = Data(base64Encoded: String(compact)) else {
            throw APIError(status: 422, "\(field) is not valid base64")
        }
        return Array(data)
    }

    /// Stores a PNG (checked by decoding it) and returns its path.
    func store(_ bytes: [UInt8], field: String) throws -> String {
        do {
            _ = try PNGCodec.decode(bytes, file: field)
        } catch {
            throw APIError(status: 422, "\(field) is not a readable PNG image (stylediff reads PNG only): \(CLIError(error).message)")
        }
        let path = directory + "/" + SHA256Digest.hex(bytes) + ".png"
        if !FileAccess.exists(path) {
            do {
                try FileAccess.publish(bytes, to: path, replace: false)
            } catch {
                // Another request may have stored the same image meanwhile.
                if !FileAccess.exists(path) { throw CLIError(.cannotCreate, "cannot store \(field) in \(directory): \(CLIError(error).message)") }
            }
        }
        return path
    }
}

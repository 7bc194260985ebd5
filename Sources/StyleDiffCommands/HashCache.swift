// SHA-256 of model files, remembered across runs (as AUTOMATIC1111's cache.json does):
// hashing a 4 GB Stable Diffusion folder costs seconds on every command otherwise, and hashing
// the 32 MB default model a quarter of a one-image `--fast` command. An entry is
// used only while the file's real path, device, inode, size and modification time (ns) are all
// unchanged; anything else, or a cache that cannot be read, means hashing the file again. The
// cache lives in $STYLEDIFF_CACHE_DIR, else $XDG_CACHE_HOME/stylediff, else ~/.cache/stylediff
// (an empty STYLEDIFF_CACHE_DIR turns it off) and is replaced atomically; failing to write it
// never fails a command.

import FileAccess
import Foundation

public enum HashCache {
    /// Files smaller than this are hashed every time (reading them costs less than the cache).
    static let minimumSize = 1 << 20

    struct Entry: Codable, Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modified: Int64  // ns since the epoch
        var sha256: String

        /// Whether both describe the same file state (the hashes aside).
        func sameFile(as other: Entry) -> Bool {
            (device, inode, size, modified) == (other.device, other.inode, other.size, other.modified)
        }
    }

    /// The cache file, or nil when caching is off or no home is known.
    static var cacheFile: String? {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["STYLEDIFF_CACHE_DIR"] { return dir.isEmpty ? nil : dir + "/file-hashes.json" }
        if let xdg = env["XDG_CACHE_HOME"], !xdg.isEmpty { return xdg + "/stylediff/file-hashes.json" }
        if let home = env["HOME"], !home.isEmpty { return home + "/.cache/stylediff/file-hashes.json" }
        return nil
    }

    /// The identity of the file at `path` (links followed), nil when it cannot be stat'ed.
    static func identity(_ path: String) -> (key: String, entry: Entry)? {
        var st = stat()
        guard stat(path, &st) == 0, let real = realpath(path, nil) else { return nil }
        defer { free(real) }
        let modified = Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
        return (String(cString: real), Entry(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                                             modified: modified, sha256: ""))
    }

    /// SHA-256 (hex) of the regular file at `path`, from the cache when it still describes the file.
    public static func sha256(file path: String) throws -> String {
        try sha256(file: path, cache: cacheFile, minimumSize: minimumSize)
    }

    /// SHA-256 (hex) of each file, in order: the cache read once and written at most once.
    public static func sha256(files paths: [String]) throws -> [String] {
        try sha256(files: paths, cache: cacheFile, minimumSize: minimumSize)
    }

    static func sha256(file path: String, cache: String?, minimumSize: Int) throws -> String {
        try sha256(files: [path], cache: cache, minimumSize: minimumSize)[0]
    }

    static func sha256(files paths: [String], cache: String?, minimumSize: Int) throws -> [String] {
        var entries: [String: Entry]?
        var changed = false
        let hashes = try paths.map { path in
            guard let cachePath = cache, let (key, current) = identity(path), current.size >= minimumSize else {
                return try SHA256Digest.hex(file: path)
            }
            if entries == nil { entries = load(cachePath) }
            if let cached = entries?[key], cached.sha256.count == 64, cached.sameFile(as: current) { return cached.sha256 }
            let hash = try SHA256Digest.hex(file: path)
            var entry = current
            entry.sha256 = hash
            entries?[key] = entry
            changed = true
            return hash
        }
        if changed, let cache, let entries { save(entries, to: cache) }
        return hashes
    }

    static func load(_ path: String) -> [String: Entry] {
        guard let bytes = try? FileAccess.read(path, limit: 16 << 20),
              let entries = try? JSONDecoder().decode([String: Entry].self, from: Data(bytes)) else { return [:] }
        return entries
    }

    /// Writes the cache without the entries whose file is gone (temporary copies of a model
    /// would otherwise pile up).
    static func save(_ entries: [String: Entry], to path: String) {
        let entries = entries.filter { access($0.key, F_OK) == 0 }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(entries) else { return }
        try? FileManager.default.createDirectory(atPath: FileAccess.parentDirectory(of: path), withIntermediateDirectories: true)
        try? FileAccess.publish(Array(data), to: path, replace: true)
    }
}

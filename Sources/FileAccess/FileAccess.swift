// Reading and publishing files without trusting them: inputs must be regular files (symbolic
// links are followed; directories, FIFOs and devices are refused before anything is read) and
// their size is checked against a limit before a byte is allocated, so a config that links to
// /dev/zero is an error instead of a hang. Outputs are written to a temporary file beside the
// target and published by a hard link (never replacing) or a rename (replacing, only a regular
// file or a link to one). Path helpers avoid Foundation's NSString path methods, which trap on
// one-character paths on Swift 6.3 for Linux.

import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public enum FileAccessError: Error, Equatable, CustomStringConvertible {
    case missing(path: String)
    case notRegularFile(path: String, kind: String)
    case tooLarge(path: String, size: Int, limit: Int)
    case unreadable(path: String, reason: String)
    case exists(path: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case .missing(let p): return "\(p): no such file"
        case .notRegularFile(let p, let kind): return "\(p): not a regular file (\(kind))"
        case .tooLarge(let p, let size, let limit): return "\(p): \(size) bytes, over the limit of \(limit) bytes for this kind of file"
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .exists(let p): return "\(p) exists (use --overwrite to replace it)"
        case .cannotWrite(let p, let r): return "\(p): cannot write: \(r)"
        }
    }
}

public enum FileAccess {
    /// What a path names, following symbolic links.
    public enum Kind: Equatable, Sendable {
        case regular(size: Int)
        case directory
        case other(String)
    }

    /// Default size limit for configuration-like files (JSON, prompt files): 64 MiB.
    public static let defaultLimit = 64 << 20

    /// The kind of `path` after following links; nil when nothing is there (or a link dangles).
    public static func kind(of path: String) -> Kind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return kind(st)
    }

    static func kind(_ st: stat) -> Kind {
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(st.st_size))
        case S_IFDIR: return .directory
        case S_IFIFO: return .other("a FIFO")
        case S_IFCHR: return .other("a character device")
        case S_IFBLK: return .other("a block device")
        case S_IFSOCK: return .other("a socket")
        default: return .other("an unknown file type")
        }
    }

    /// Whether `path` is a folder (after following links).
    public static func isDirectory(_ path: String) -> Bool { kind(of: path) == .directory }

    /// Whether something (a file of any kind, or a dangling link) is at `path`.
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// The size of the regular file at `path`; errors for anything else.
    public static func regularFileSize(_ path: String) throws -> Int {
        switch kind(of: path) {
        case nil: throw FileAccessError.missing(path: path)
        case .regular(let size): return size
        case .directory: throw FileAccessError.notRegularFile(path: path, kind: "a folder")
        case .other(let k): throw FileAccessError.notRegularFile(path: path, kind: k)
        }
    }

    /// Opens `path` for reading without blocking (a FIFO cannot stall the open) and checks on
    /// the open descriptor that it is a regular file: (descriptor, size). The caller closes it.
    static func openRegularFile(_ path: String) throws -> (CInt, Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT { throw FileAccessError.missing(path: path) }
            throw FileAccessError.unreadable(path: path, reason: String(cString: strerror(e)))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw FileAccessError.unreadable(path: path, reason: reason)
        }
        switch kind(st) {
        case .regular(let size): return (fd, size)
        case .directory: close(fd); throw FileAccessError.notRegularFile(path: path, kind: "a folder")
        case .other(let k): close(fd); throw FileAccessError.notRegularFile(path: path, kind: k)
        }
    }

    /// The bytes of the regular file at `path`, which must hold at most `limit` bytes. The file
    /// is opened without blocking (a FIFO cannot stall it) and checked on the open descriptor.
    public static func read(_ path: String, limit: Int = defaultLimit) throws -> [UInt8] {
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        guard size <= limit else { throw FileAccessError.tooLarge(path: path, size: size, limit: limit) }
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }  // the file shrank while it was read
                throw FileAccessError.unreadable(path: path, reason: String(cString: strerror(errno)))
            }
            done += n
        }
        return done == size ? bytes : Array(bytes.prefix(done))
    }

    /// Reads a regular file in chunks of at most `chunk` bytes (for hashing large weight files).
    public static func forEachChunk(_ path: String, chunk: Int = 1 << 20, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let (fd, _) = try openRegularFile(path)
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, chunk)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw FileAccessError.unreadable(path: path, reason: String(cString: strerror(errno))) }
            if n == 0 { return }
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    // MARK: Paths

    /// The folder part of `path` ("" when it has none; "/" for a file at the root).
    public static func parentDirectory(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "" }
        if slash == p.startIndex { return "/" }
        var parent = p[..<slash]
        while parent.count > 1 && parent.hasSuffix("/") { parent = parent.dropLast() }
        return String(parent)
    }

    /// The last component of `path` (the file name).
    public static func lastComponent(of path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/"), p.count > 1 else { return String(p) }
        return String(p[p.index(after: slash)...])
    }

    // MARK: Publishing outputs

    /// The marker in temporary file names: ".NAME.stylediff-tmp-PID-N".
    public static let temporaryMarker = ".stylediff-tmp-"

    private static let temporaryCounter = Atomic<Int>(0)

    /// Writes `bytes` to `path` through a temporary file in the same folder. Without `replace`
    /// the file is published with link(2), which fails if `path` exists (also when another
    /// process created it meanwhile): FileAccessError.exists. With `replace`, an existing
    /// `path` must be a regular file or a link to one; the temporary file is renamed over it.
    /// Either the complete file appears or nothing changes.
    public static func publish(_ bytes: [UInt8], to path: String, replace: Bool) throws {
        try checkOutput(path, replace: replace)
        let directory = parentDirectory(of: path)
        let n = temporaryCounter.add(1, ordering: .relaxed).newValue
        let temporary = (directory.isEmpty ? "" : directory == "/" ? "/" : directory + "/")
            + "." + lastComponent(of: path) + temporaryMarker + "\(getpid())-\(n)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileAccessError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        var written = 0
        var failure: String?
        while written < bytes.count {
            let r = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if r < 0 && errno == EINTR { continue }
            guard r > 0 else { failure = String(cString: strerror(errno)); break }
            written += r
        }
        if failure == nil && fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0 && failure == nil { failure = String(cString: strerror(errno)) }
        defer { unlink(temporary) }
        if let failure { throw FileAccessError.cannotWrite(path: path, reason: failure) }
        if replace {
            try checkOutput(path, replace: true)
            guard rename(temporary, path) == 0 else { throw FileAccessError.cannotWrite(path: path, reason: String(cString: strerror(errno))) }
        } else {
            guard link(temporary, path) == 0 else {
                let e = errno
                if e == EEXIST { throw FileAccessError.exists(path: path) }
                throw FileAccessError.cannotWrite(path: path, reason: String(cString: strerror(e)))
            }
        }
    }

    /// Checks that `path` can be published: its folder exists, and it is absent, or (with
    /// `replace`) a regular file or a link to one.
    public static func checkOutput(_ path: String, replace: Bool) throws {
        guard !path.isEmpty else { throw FileAccessError.cannotWrite(path: path, reason: "empty path") }
        let directory = parentDirectory(of: path)
        if !directory.isEmpty {
            guard isDirectory(directory) else { throw FileAccessError.cannotWrite(path: path, reason: "folder \(directory) does not exist") }
        }
        guard access(directory.isEmpty ? "." : directory, W_OK) == 0 else {
            throw FileAccessError.cannotWrite(path: path, reason: "folder is not writable")
        }
        guard exists(path) else { return }
        guard replace else { throw FileAccessError.exists(path: path) }
        switch kind(of: path) {
        case .regular: return
        case nil: throw FileAccessError.cannotWrite(path: path, reason: "a dangling symbolic link is in the way")
        case .directory: throw FileAccessError.notRegularFile(path: path, kind: "a folder")
        case .other(let k): throw FileAccessError.notRegularFile(path: path, kind: k)
        }
    }

    /// The process id in a temporary file's name (".NAME.stylediff-tmp-PID-N"), or nil.
    static func temporaryFileOwner(_ name: String) -> Int32? {
        let parts = name.components(separatedBy: temporaryMarker)
        guard parts.count >= 2, let last = parts.last else { return nil }
        let fields = last.split(separator: "-")
        guard fields.count == 2, let pid = Int32(fields[0]), pid > 0, Int(fields[1]) != nil else { return nil }
        return pid
    }

    /// Removes temporary files that an interrupted or killed run left in `directory` (those of
    /// processes no longer running). Returns the names removed.
    @discardableResult
    public static func removeStaleTemporaryFiles(in directory: String) -> [String] {
        guard let dir = opendir(directory.isEmpty ? "." : directory) else { return [] }
        defer { closedir(dir) }
        var removed: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasPrefix("."), let owner = temporaryFileOwner(name) else { continue }
            if owner == getpid() || kill(owner, 0) == 0 { continue }
            let full = (directory.isEmpty ? "" : directory + "/") + name
            if unlink(full) == 0 { removed.append(name) }
        }
        return removed.sorted()
    }
}

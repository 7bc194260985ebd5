// HashCache: a remembered hash is used only while the file is unchanged (same path, inode,
// size, modification time); a changed file or a damaged cache means hashing again.

import Foundation
import Testing
@testable import StyleDiffCommands

@Suite struct HashCacheTests {
    @Test func cachedHashFollowsTheFile() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/weights.safetensors", cache = dir + "/cache/file-hashes.json"
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: file))
        let first = try HashCache.sha256(file: file, cache: cache, minimumSize: 0)
        #expect(first == (try SHA256Digest.hex(file: file)))
        #expect(HashCache.load(cache).values.map(\.sha256) == [first])
        // A forged entry for the unchanged file is believed: the cache is what answers.
        var entries = HashCache.load(cache)
        let key = try #require(entries.keys.first)
        entries[key]?.sha256 = String(repeating: "a", count: 64)
        HashCache.save(entries, to: cache)
        #expect(try HashCache.sha256(file: file, cache: cache, minimumSize: 0) == String(repeating: "a", count: 64))
        // New content (and so a new modification time): hashed again, the entry replaced.
        Thread.sleep(forTimeInterval: 0.01)
        try Data(repeating: 8, count: 4096).write(to: URL(fileURLWithPath: file))
        let second = try HashCache.sha256(file: file, cache: cache, minimumSize: 0)
        #expect(second == (try SHA256Digest.hex(file: file)) && second != first)
        #expect(HashCache.load(cache)[key]?.sha256 == second)
        // A damaged cache is ignored and rewritten.
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: cache))
        #expect(try HashCache.sha256(file: file, cache: cache, minimumSize: 0) == second)
        #expect(HashCache.load(cache)[key]?.sha256 == second)
        // Small files and an unset cache bypass it.
        #expect(try HashCache.sha256(file: file, cache: nil, minimumSize: 0) == second)
        #expect(try HashCache.sha256(file: file, cache: dir + "/other.json", minimumSize: 1 << 20) == second)
        #expect(!FileManager.default.fileExists(atPath: dir + "/other.json"))
        // Several files at once: one answer per file, in order; a deleted file's entry is dropped
        // when the cache is next written.
        let other = dir + "/vae.safetensors"
        try Data(repeating: 9, count: 2048).write(to: URL(fileURLWithPath: other))
        let both = try HashCache.sha256(files: [other, file], cache: cache, minimumSize: 0)
        #expect(both == [try SHA256Digest.hex(file: other), second])
        #expect(HashCache.load(cache).count == 2)
        try FileManager.default.removeItem(atPath: other)
        Thread.sleep(forTimeInterval: 0.01)
        try Data(repeating: 1, count: 4096).write(to: URL(fileURLWithPath: file))
        let third = try HashCache.sha256(file: file, cache: cache, minimumSize: 0)
        #expect(third == (try SHA256Digest.hex(file: file)))
        #expect(HashCache.load(cache).values.map(\.sha256) == [third])
    }
}

// LargeBlockCache: freed large blocks serve later requests of about their size, the cache stays
// within its capacity, a request it cannot serve empties it first, new blocks ask for huge pages,
// and TensorStorage's zeroed buffers are zero even when they reuse a dirty block.

import Foundation
import Testing
@testable import Tensors

@Suite struct LargeBlockCacheTests {
    @Test func reusesABlockOfAboutTheRequestedSize() {
        let cache = LargeBlockCache(minimumBytes: 1024, capacityBytes: 64 << 10)
        let a = cache.take(8192)
        #expect(a.bytes == 8192 && cache.cachedBytes == 0)
        cache.give(a.pointer, bytes: a.bytes)
        #expect(cache.cachedBytes == 8192)
        // At most 1/8 larger than the request: 7,500 takes the 8,192-byte block back.
        let b = cache.take(7500)
        #expect(b.pointer == a.pointer && b.bytes == 8192 && cache.cachedBytes == 0)
        cache.give(b.pointer, bytes: b.bytes)
        // 4,096 would waste half of it: a new block, and the cache is emptied first.
        let c = cache.take(4096)
        #expect(c.bytes == 4096 && cache.cachedBytes == 0)
        cache.give(c.pointer, bytes: c.bytes)
        // The smallest fitting block is taken.
        let d = cache.take(4400), e = cache.take(4200)
        cache.give(d.pointer, bytes: d.bytes)
        cache.give(e.pointer, bytes: e.bytes)
        let f = cache.take(4100)
        #expect(f.pointer == e.pointer && cache.cachedBytes == 4400)
        cache.give(f.pointer, bytes: f.bytes)
        cache.releaseAll()
        #expect(cache.cachedBytes == 0)
    }

    @Test func staysWithinItsCapacity() {
        let cache = LargeBlockCache(minimumBytes: 1024, capacityBytes: 20_000)
        let blocks = (0..<5).map { _ in cache.take(6000) }
        for b in blocks { cache.give(b.pointer, bytes: b.bytes) }
        #expect(cache.cachedBytes == 18_000)  // three of 6,000; the other two were freed
        cache.releaseAll()
    }

    #if os(Linux)
    /// New blocks from 2 MB ask for transparent huge pages: their mapping carries the "hg" flag
    /// in /proc/self/smaps (madvise(MADV_HUGEPAGE)), unless the system has them off.
    @Test func newBlocksAskForHugePages() throws {
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? "[never]"
        guard !mode.contains("[never]") else { return }
        let cache = LargeBlockCache(minimumBytes: 1024, capacityBytes: 0)
        let block = cache.take(6 << 20)
        defer { cache.give(block.pointer, bytes: block.bytes) }
        let address = UInt(bitPattern: block.pointer)
        // Read to the end: String(contentsOfFile:) stops after the first page of a /proc file.
        let smaps = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps")).readToEnd() ?? Data()
        var inBlock = false, flags: String?
        for line in String(decoding: smaps, as: UTF8.self).split(separator: "\n") {
            if line.first?.isHexDigit == true, let range = line.split(separator: " ").first, range.contains("-") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inBlock = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inBlock, line.hasPrefix("VmFlags:") {
                flags = String(line)
            }
        }
        let found = try #require(flags)
        #expect(found.split(separator: " ").contains("hg"))
    }
    #endif

    /// Through the shared cache: a zeroed tensor on a reused block reads zeros, an uninitialized
    /// one keeps the block, and both have the requested size.
    @Test func zeroedStorageOnAReusedBlockIsZero() {
        let count = (LargeBlockCache.shared.minimumBytes / 4) + 1000
        do {
            let dirty = TensorStorage(count: count, zeroed: false)
            dirty.pointer.update(repeating: 7, count: count)
        }
        let clean = TensorStorage(count: count)
        var nonzero = 0
        for i in 0..<count where clean.pointer[i] != 0 { nonzero += 1 }
        #expect(nonzero == 0 && clean.count == count)
    }
}

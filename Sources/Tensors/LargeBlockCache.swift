// Reuse of large tensor buffers. glibc maps every block above its mmap threshold (at most 32 MB)
// on its own and unmaps it on free, so each large activation (a 512 px VAE decoder's 512x512x128
// maps are 134 MB; SD's 64x64-latent GEGLU products 84 MB) was page-faulted and zeroed by the
// kernel again, op after op: ~14% of a 512 px one-step image in perf (clear_page, page-fault
// handling). Freed blocks of that size wait here for the next request of about their size.
// New blocks ask for transparent huge pages: the 512 px VAE decode, whose maps change size level
// by level (32 to 256 MB) and so keep missing the cache, took 4.89 s with 4 KB pages and 4.34 s
// with 2 MB ones (2 threads, median of 12 decodes in three interleaved rounds; the 64x64 UNet
// step unchanged: paired 1.002; peak resident not higher). Tried and not kept (decodes no
// faster here): blocks cut to size and grown with mremap instead of unmapped on a miss (35% fewer
// new bytes); blocks serving requests down to half their size; the decoder reading its upsampled
// maps in place (the upsample copies went, but their new pages moved to the next group norms).
//
// Limits: blocks from 32 MB up; a request takes a block at most 1/8 larger than it; the cache
// holds at most `capacityBytes`, and a request that finds no block first returns every cached
// block to the system (sizes changed: another model or phase), so resident memory exceeds that
// of plain malloc by at most the cached blocks of the current sizes. `releaseAll()` empties it
// (the pipeline calls it on `shared` before the decode and when an image is done). Evicting the
// least recently freed blocks instead of emptying on a miss made a 512 px one-step image 10%
// slower (13.8 against 12.5 s at 2 threads) at the same peak.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class LargeBlockCache: Sendable {
    /// The cache TensorStorage uses: blocks from 32 MB (glibc's largest mmap threshold: smaller
    /// blocks stay in its heap anyway), at most 512 MB waiting.
    public static let shared = LargeBlockCache(minimumBytes: 32 << 20, capacityBytes: 512 << 20)

    /// Blocks from this size are cached.
    public let minimumBytes: Int
    /// At most this many bytes wait in the cache.
    public let capacityBytes: Int
    static let alignment = 64

    private struct Block: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int
    }

    private let blocks = Mutex<[Block]>([])

    public init(minimumBytes: Int, capacityBytes: Int) {
        self.minimumBytes = minimumBytes
        self.capacityBytes = capacityBytes
    }

    deinit { releaseAll() }

    /// A block of at least `bytes` (and its size) for a request of `bytes` >= minimumBytes:
    /// a cached one at most 1/8 larger, else a new one (after returning the cache to the system).
    public func take(_ bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        let (found, stale) = blocks.withLock { cached -> (Block?, [Block]) in
            var best: Int?
            for (i, b) in cached.enumerated() where b.bytes >= bytes && b.bytes - bytes <= bytes / 8 {
                if best.map({ b.bytes < cached[$0].bytes }) ?? true { best = i }
            }
            if let best { return (cached.remove(at: best), []) }
            let all = cached
            cached.removeAll()
            return (nil, all)
        }
        for b in stale { b.pointer.deallocate() }
        if let found { return (found.pointer, found.bytes) }
        return (Self.allocateHuge(bytes), bytes)
    }

    /// `bytes` (from 2 MB) on a 2 MB boundary, transparent huge pages asked for (Linux's
    /// madvise; Debian's default "madvise" mode gives them only to regions that ask): the
    /// kernel then maps and zeroes 2 MB per fault instead of 4 KB.
    static func allocateHuge(_ bytes: Int) -> UnsafeMutableRawPointer {
        guard bytes >= hugePageBytes else { return UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: alignment) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: hugePageBytes)
        #if os(Linux)
        _ = madvise(p, bytes / hugePageBytes * hugePageBytes, MADV_HUGEPAGE)
        #endif
        return p
    }

    static let hugePageBytes = 2 << 20

    /// Takes back a block from `take` with the size it gave (cached while there is room, else freed).
    public func give(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let kept = blocks.withLock { cached -> Bool in
            guard cached.reduce(0, { $0 + $1.bytes }) + bytes <= capacityBytes else { return false }
            cached.append(Block(pointer: pointer, bytes: bytes))
            return true
        }
        if !kept { pointer.deallocate() }
    }

    /// Returns every cached block to the system.
    public func releaseAll() {
        let all = blocks.withLock { cached -> [Block] in
            let all = cached
            cached.removeAll()
            return all
        }
        for b in all { b.pointer.deallocate() }
    }

    /// Bytes waiting in the cache.
    public var cachedBytes: Int { blocks.withLock { $0.reduce(0) { $0 + $1.bytes } } }
}

// Optional per-operation timing (off by default): each kernel entry point records its wall
// time under a category, for the benchmark's "where the time goes" table. Categories are
// leaves (GEMM time is not counted again under convolution), so the shares add up.

import Dispatch
import Foundation
import Synchronization

public enum Profiler {
    private static let enabledFlag = Atomic<Bool>(false)
    private static let totals = Mutex<[String: (seconds: Double, calls: Int)]>([:])

    private static let shapesFlag = Atomic<Bool>(false)

    /// Whether GEMMs are timed per shape ("gemm MxNxK", " p" for prepacked weights) rather than as one "gemm".
    static var byShape: Bool { shapesFlag.load(ordering: .relaxed) }

    public static var isEnabled: Bool { enabledFlag.load(ordering: .relaxed) }

    /// Starts collecting (and clears earlier totals); `gemmShapes` splits the GEMM time by shape.
    public static func start(gemmShapes: Bool = false) {
        totals.withLock { $0 = [:] }
        shapesFlag.store(gemmShapes, ordering: .relaxed)
        enabledFlag.store(true, ordering: .relaxed)
    }

    /// Stops collecting and returns (category, seconds, calls), largest first.
    public static func stop() -> [(category: String, seconds: Double, calls: Int)] {
        enabledFlag.store(false, ordering: .relaxed)
        return totals.withLock { t in t.map { ($0.key, $0.value.seconds, $0.value.calls) }.sorted { $0.1 > $1.1 } }
    }

    /// Runs `body`, adding its wall time to `category` when profiling is on.
    @inline(__always)
    public static func measure<T>(_ category: String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            totals.withLock { t in
                let old = t[category] ?? (0, 0)
                t[category] = (old.seconds + seconds, old.calls + 1)
            }
        }
        return try body()
    }
}

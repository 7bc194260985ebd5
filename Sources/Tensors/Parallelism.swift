// The project-wide thread setting and the deterministic parallel loops built on it.
//
// Work is split into contiguous ranges and every output element is computed by exactly one
// task in a fixed order, so results never depend on the thread count (GEMM's split too: see
// `GEMM`).

import Dispatch
import Foundation
import Synchronization

public enum Parallelism {
    private static let storedThreadCount = Atomic<Int>(0)
    private static let poolDisabled = Atomic<Bool>(false)

    /// Number of threads used by every kernel; defaults to the number of active cores.
    public static var threadCount: Int {
        let n = storedThreadCount.load(ordering: .relaxed)
        return n > 0 ? n : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// Sets the thread count (at least 1); 0 restores the default.
    public static func setThreadCount(_ count: Int) {
        storedThreadCount.store(max(0, count), ordering: .relaxed)
    }

    /// Whether parallel loops run on the worker pool (the default) or on Dispatch, as they did
    /// before the pool; for benchmarks that compare the two. Results are the same either way.
    public static var usesWorkerPool: Bool {
        get { !poolDisabled.load(ordering: .relaxed) }
        set { poolDisabled.store(!newValue, ordering: .relaxed) }
    }

    /// Runs `body` on `threadCount` contiguous slices of `0..<count` (fewer when there is
    /// less work than `minimumPerTask` per slice). Slices are disjoint and cover the range.
    public static func forEachRange(
        _ count: Int, minimumPerTask: Int = 1, _ body: (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let tasks = max(1, min(threadCount, count / max(1, minimumPerTask)))
        if tasks == 1 {
            body(0..<count)
            return
        }
        concurrentPerform(tasks) { t in
            let lo = count * t / tasks, hi = count * (t + 1) / tasks
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Runs `body(0..<iterations)` concurrently on the worker pool (at most `threadCount`
    /// threads) and returns when all are done; on Dispatch when the pool is busy with another
    /// loop. The closure does not escape; kernels hand it raw pointers to disjoint parts of
    /// their outputs.
    public static func concurrentPerform(_ iterations: Int, _ body: (Int) -> Void) {
        if iterations == 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendableBox(escapable)
            if !usesWorkerPool || !WorkerPool.shared.run(iterations: iterations, threads: threadCount, { box.value($0) }) {
                DispatchQueue.concurrentPerform(iterations: iterations) { box.value($0) }
            }
        }
    }

    /// Runs `body(i)` for every i in `0..<count`, spread over the threads.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forEachRange(count) { range in
            for i in range { body(i) }
        }
    }
}

/// Carries a non-Sendable value into a concurrent region whose tasks touch disjoint data.
private struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

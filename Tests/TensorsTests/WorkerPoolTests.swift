// The worker pool behind Parallelism.concurrentPerform: every iteration runs exactly once, for
// any iteration and thread count, back to back, nested, and from several callers at once.

import Dispatch
import Synchronization
import Testing
@testable import Tensors

@Suite(.serialized) struct WorkerPoolTests {
    /// Runs a loop of `n` iterations that counts each iteration's runs; returns the counts.
    func counts(_ n: Int) -> [Int] {
        let runs = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        defer { runs.deallocate() }
        runs.initialize(repeating: 0)
        Parallelism.concurrentPerform(n) { i in runs[i] += 1 }  // each i written by one thread
        return Array(runs)
    }

    @Test func everyIterationRunsOnceAtEveryThreadCount() {
        defer { Parallelism.setThreadCount(0) }
        for threads in [1, 2, 3, 4, 8] {
            Parallelism.setThreadCount(threads)
            for n in 1...17 {
                for _ in 0..<50 {  // back to back, as kernels run: workers are spinning, then parked
                    #expect(counts(n) == Array(repeating: 1, count: n), "\(n) iterations at \(threads) threads")
                }
            }
        }
    }

    @Test func poolRunsLoopsWhenIdleAndDeclinesWhileBusy() {
        let pool = WorkerPool()
        let total = Atomic<Int>(0)
        var nestedRan = false
        let ran = pool.run(iterations: 4, threads: 4) { i in
            total.wrappingAdd(i + 1, ordering: .relaxed)
            if i == 0 {  // a loop started inside a loop: the pool is busy and declines
                nestedRan = pool.run(iterations: 2, threads: 2) { _ in }
            }
        }
        #expect(ran)
        #expect(!nestedRan)
        #expect(total.load(ordering: .relaxed) == 10)
        #expect(pool.run(iterations: 3, threads: 2) { _ in total.wrappingAdd(1, ordering: .relaxed) })
        #expect(total.load(ordering: .relaxed) == 13)
    }

    @Test func nestedLoopsAndConcurrentCallersComplete() {
        defer { Parallelism.setThreadCount(0) }
        Parallelism.setThreadCount(4)
        let total = Atomic<Int>(0)
        // Four callers at once, each running loops whose iterations run loops of their own.
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<20 {
                Parallelism.concurrentPerform(3) { _ in
                    Parallelism.concurrentPerform(5) { j in total.wrappingAdd(j, ordering: .relaxed) }
                }
            }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 20 * 3 * (0 + 1 + 2 + 3 + 4))
    }
}

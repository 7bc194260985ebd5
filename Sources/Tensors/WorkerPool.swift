// A persistent pool of worker threads behind `Parallelism.concurrentPerform`: workers spin
// briefly for the next loop (kernels run back to back, so the next one usually comes within
// microseconds), then park on a condition variable. The calling thread works on its own loop
// too. Which thread runs an iteration never changes what the iteration computes, so results
// stay independent of the thread count (every kernel partitions its work by shape alone).
//
// One loop runs at a time. A loop started while another is running (a nested parallel loop, or
// a second request of the server) goes to Dispatch instead, as every loop did before the pool.

import CKernels
import Foundation
import Synchronization

final class WorkerPool: @unchecked Sendable {
    /// One parallel loop: `iterations` calls of `body`, claimed through an atomic counter.
    private final class Job: @unchecked Sendable {
        let body: (Int) -> Void
        let iterations: Int
        let next = Atomic<Int>(0)
        let unfinished: Atomic<Int>
        /// Workers that may still join (the loop's thread budget less the caller).
        let openSeats: Atomic<Int>

        init(body: @escaping (Int) -> Void, iterations: Int, helpers: Int) {
            self.body = body
            self.iterations = iterations
            unfinished = Atomic(iterations)
            openSeats = Atomic(helpers)
        }

        /// Runs iterations until none are left to claim.
        func work() {
            while true {
                let i = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard i < iterations else { return }
                body(i)
                // Releasing: the iteration's writes are visible to the caller that sees zero.
                unfinished.wrappingSubtract(1, ordering: .releasing)
            }
        }
    }

    static let shared = WorkerPool()

    /// About 20-100 microseconds of spin hints before a waiting thread parks or yields.
    private static let spinLimit = 4_000

    private let condition = NSCondition()
    /// The loop being run (guarded by `condition`); nil between loops.
    private var current: Job?
    /// Incremented when a loop is published (written under `condition`).
    private let epoch = Atomic<Int>(0)
    /// Worker threads started (guarded by `condition`); they never exit.
    private var workers = 0
    /// Whether a loop is in progress (one at a time).
    private let busy = Atomic<Bool>(false)
    /// Workers holding a reference to a loop: the caller returns only when this is zero, so
    /// `body` (a non-escaping closure of the caller) never outlives the call.
    private let holders = Atomic<Int>(0)

    /// Runs `body(i)` for i in 0..<iterations on the calling thread and up to `threads - 1`
    /// workers; returns when every iteration is done. Returns false, having run nothing, when
    /// the pool is serving another loop.
    func run(iterations: Int, threads: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard iterations > 0 else { return true }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        publishAndWork(iterations: iterations, threads: threads, body)
        // Workers that took the loop drop their reference before they count themselves out.
        Self.wait { holders.load(ordering: .acquiring) == 0 }
        return true
    }

    /// Publishes the loop, works on it, waits for its last iteration and unpublishes it. A
    /// separate function so that its references to the loop are gone when it returns.
    @inline(never)
    private func publishAndWork(iterations: Int, threads: Int, _ body: @escaping (Int) -> Void) {
        let helpers = max(0, min(threads, iterations) - 1)
        let job = Job(body: body, iterations: iterations, helpers: helpers)
        condition.lock()
        while workers < helpers {
            startWorker(seenEpoch: epoch.load(ordering: .relaxed))
            workers += 1
        }
        current = job
        epoch.wrappingAdd(1, ordering: .releasing)
        condition.broadcast()
        condition.unlock()
        job.work()
        Self.wait { job.unfinished.load(ordering: .acquiring) == 0 }
        condition.lock()
        current = nil
        condition.unlock()
    }

    /// Spins with CPU hints, then yields, until `done`.
    private static func wait(until done: () -> Bool) {
        var spins = 0
        while !done() {
            if spins < spinLimit {
                ck_cpu_relax()
                spins += 1
            } else {
                sched_yield()
            }
        }
    }

    private func startWorker(seenEpoch: Int) {
        let thread = Thread { self.workerLoop(seenEpoch: seenEpoch) }  // workers keep their pool alive
        thread.stackSize = 8 << 20
        thread.name = "stylediff-worker"
        thread.start()
    }

    private func workerLoop(seenEpoch: Int) {
        var seen = seenEpoch
        while true {
            var spins = 0
            while epoch.load(ordering: .acquiring) == seen {
                if spins < Self.spinLimit {
                    ck_cpu_relax()
                    spins += 1
                } else {
                    condition.lock()
                    while epoch.load(ordering: .acquiring) == seen { condition.wait() }
                    condition.unlock()
                }
            }
            if takeAndHelp(seen: &seen) { holders.wrappingSubtract(1, ordering: .releasing) }
        }
    }

    /// Takes the published loop, if one is left, and helps while a seat is open; true when it
    /// took one (counted in `holders`). Its reference to the loop is gone when it returns.
    @inline(never)
    private func takeAndHelp(seen: inout Int) -> Bool {
        condition.lock()
        seen = epoch.load(ordering: .acquiring)
        guard let job = current else {
            condition.unlock()
            return false
        }
        holders.wrappingAdd(1, ordering: .relaxed)
        condition.unlock()
        if job.openSeats.wrappingSubtract(1, ordering: .relaxed).oldValue > 0 { job.work() }
        return true
    }
}

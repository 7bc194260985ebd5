// Generations run `workers` at a time per loaded model (1 by default), in arrival order, with a
// bounded number waiting: a request past the bound is refused at once (429) instead of waiting
// without end. A waiting request leaves the queue when its client goes away or its deadline
// passes (the caller withdraws it); on shutdown the waiting ones are refused (503) while the running ones finish. The
// work runs on its own threads, never on the server's event loops.

import Foundation

actor GenerationQueue {
    let limit: Int
    let workers: Int
    private var running: [GenerationJob] = []
    private var waiting: [(job: GenerationJob, turn: CheckedContinuation<Bool, Never>)] = []
    private var shuttingDown = false
    private let threads: DispatchQueue

    /// `limit`: requests that may wait besides the running ones; `workers`: how many run at once.
    init(limit: Int, workers: Int = 1) {
        self.limit = limit
        self.workers = max(1, workers)
        threads = DispatchQueue(label: "stylediff.generation", attributes: workers > 1 ? .concurrent : [])
    }

    /// The jobs running now, oldest first, and how many wait.
    var state: (running: [GenerationJob], waiting: Int) { (running, waiting.count) }

    /// Runs `work` for `job` when its turn comes: APIError 429 when `limit` requests already
    /// wait, the job's stop error when it is stopped while waiting or shutdown begins.
    func run<T: Sendable>(_ job: GenerationJob, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        if shuttingDown { throw GenerationJob.Stop.shutdown.error }
        if running.count >= workers {
            guard waiting.count < limit else {
                throw APIError(status: 429, "the queue is full (\(limit) waiting); retry later")
            }
            // admitNext moves the job to `running` before resuming it, so no newcomer overtakes it.
            let admitted = await withCheckedContinuation { waiting.append((job, $0)) }
            guard admitted else { throw (job.stopReason ?? .shutdown).error }
        } else {
            running.append(job)
        }
        defer {
            running.removeAll { $0 === job }
            admitNext()
        }
        return try await withCheckedThrowingContinuation { continuation in
            threads.async { continuation.resume(with: Result { try work() }) }
        }
    }

    /// Takes a waiting job out of the queue (its client left or its deadline passed).
    func withdraw(_ job: GenerationJob) {
        if let i = waiting.firstIndex(where: { $0.job === job }) { waiting.remove(at: i).turn.resume(returning: false) }
    }

    /// Stops the running jobs (POST /sdapi/v1/interrupt); waiting ones keep their turn.
    func interruptRunning() -> Int {
        for job in running { job.stop(.interrupted) }
        return running.count
    }

    /// Refuses the waiting requests and any new one; the running ones finish.
    func shutDown() {
        shuttingDown = true
        for entry in waiting {
            entry.job.stop(.shutdown)
            entry.turn.resume(returning: false)
        }
        waiting.removeAll()
    }

    private func admitNext() {
        guard running.count < workers, !waiting.isEmpty else { return }
        let next = waiting.removeFirst()
        running.append(next.job)
        next.turn.resume(returning: true)
    }
}

// One generation at a time per loaded model, in arrival order, with a bounded number waiting:
// a request past the bound is refused at once (429) instead of waiting without end. The work
// runs on its own thread, never on the server's event loops.

import Foundation

actor GenerationQueue {
    let limit: Int
    private var waiting = 0
    private var busy = false
    private var turns: [CheckedContinuation<Void, Never>] = []
    private let worker = DispatchQueue(label: "stylediff.generation")

    /// `limit`: requests that may wait besides the running one.
    init(limit: Int) { self.limit = limit }

    /// Runs `work` when its turn comes; APIError 429 when `limit` requests already wait.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        if busy {
            guard waiting < limit else { throw APIError(status: 429, "the queue is full (\(limit) waiting); retry later") }
            waiting += 1
            await withCheckedContinuation { turns.append($0) }
            waiting -= 1
        }
        busy = true
        defer { next() }
        return try await withCheckedThrowingContinuation { continuation in
            worker.async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func next() {
        if turns.isEmpty { busy = false } else { turns.removeFirst().resume() }
    }
}

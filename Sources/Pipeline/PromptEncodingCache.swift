// The last few prompt encodings of a pipeline, so a batch or a server that repeats a prompt
// (several seeds of one prompt, a negative prompt shared by every request) runs the text
// encoder once for it, as AUTOMATIC1111 keeps its last conditioning. An entry is the encoder's
// own output for that prompt and clip skip (the weights do not change after load), so the
// values are those of a fresh encoding.

import Foundation
import Tensors

final class PromptEncodingCache: @unchecked Sendable {
    private struct Key: Hashable {
        let prompt: String
        let clipSkip: Int
    }

    /// Entries kept (least recently used first out).
    let capacity: Int
    private let lock = NSLock()
    private var entries: [Key: Tensor] = [:]
    /// Keys from least to most recently used.
    private var order: [Key] = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// The encoding of (prompt, clipSkip): kept, or made by `encode` and kept.
    func encoding(_ prompt: String, clipSkip: Int, encode: () throws -> Tensor) throws -> Tensor {
        let key = Key(prompt: prompt, clipSkip: clipSkip)
        if let kept = lock.withLock({ () -> Tensor? in
            guard let t = entries[key] else { return nil }
            touch(key)
            return t
        }) {
            return kept
        }
        let made = try encode()
        lock.withLock {
            if entries.updateValue(made, forKey: key) == nil { order.append(key) } else { touch(key) }
            while order.count > capacity { entries[order.removeFirst()] = nil }
        }
        return made
    }

    /// Prompts kept now.
    var count: Int { lock.withLock { entries.count } }

    /// Moves `key` to the most recently used end (the lock held).
    private func touch(_ key: Key) {
        if let i = order.firstIndex(of: key) { order.append(order.remove(at: i)) }
    }
}

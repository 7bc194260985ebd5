// Progress on stderr (steps, it/s, ETA) when stderr is a terminal; silent otherwise.

import Foundation

public final class Progress {
    private let label: String
    private let start = Date()
    private let enabled: Bool

    public init(label: String, enabled: Bool = isatty(2) != 0) {
        self.label = label
        self.enabled = enabled
    }

    public func update(step: Int, total: Int) -> Bool {
        guard enabled else { return true }
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(step) / max(elapsed, 1e-9)
        let eta = Double(total - step) / max(rate, 1e-9)
        FileHandle.standardError.write(Data(String(format: "\r%@ step %d/%d  %.1f it/s  ETA %.0fs ", label, step, total, rate, eta).utf8))
        return true
    }

    public func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("stylediff: error: \(message)\n".utf8))
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("stylediff: \(message)\n".utf8))
}

// A LoRA file asked for on the command line or in a record: its path and scale.

import ArgumentParser

public struct LoRASpec: Equatable, Sendable {
    public var path: String
    public var scale: Float

    public init(path: String, scale: Float = 1) {
        (self.path, self.scale) = (path, scale)
    }

    /// PATH or PATH:SCALE (a trailing ":number"; a path that itself ends in ":digits" needs an
    /// explicit ":1").
    public init(argument: String) throws {
        if let colon = argument.lastIndex(of: ":"), let scale = Float(argument[argument.index(after: colon)...]) {
            guard scale.isFinite, abs(scale) <= 100 else {
                throw ValidationError("--lora \(argument): the scale must be finite and at most 100 in magnitude")
            }
            let path = String(argument[..<colon])
            guard !path.isEmpty else { throw ValidationError("--lora \(argument): no path before the scale") }
            self.init(path: path, scale: scale)
        } else {
            guard !argument.isEmpty else { throw ValidationError("--lora needs a path") }
            self.init(path: argument)
        }
    }
}

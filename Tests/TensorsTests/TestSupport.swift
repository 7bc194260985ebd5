import Tensors

/// SplitMix64: a small seeded generator for test inputs.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    let values = (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &g) }
    return try! Tensor(shape: shape, values: values)
}

/// Max |a - b| relative to max(1, max |b|).
func relativeError(_ a: Tensor, _ b: Tensor) throws -> Float {
    try a.maxAbsoluteDifference(b) / max(1, b.maxAbsolute)
}

func bytes(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

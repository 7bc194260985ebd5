// The sinusoidal timestep embedding against the formula of diffusers' get_timestep_embedding.

import Foundation
import Testing
@testable import Models
import Tensors

@Suite struct TimestepEmbeddingTests {
    @Test func timestepEmbeddingFollowsFormula() throws {
        for (flip, shift) in [(true, Float(0)), (false, Float(1))] {
            let e = try Tensor.timestepEmbedding(timesteps: [0, 1, 999], dimension: 32, flipSinToCos: flip, downscaleFrequencyShift: shift)
            for (row, t) in [0.0, 1.0, 999.0].enumerated() { for i in 0..<16 {
                let f = Foundation.exp(-Foundation.log(10000.0) * Double(i) / (16 - Double(shift)))
                let (s, c) = (Foundation.sin(t * f), Foundation.cos(t * f))
                let first = Double(e.pointer[row * 32 + i]), second = Double(e.pointer[row * 32 + 16 + i])
                #expect(abs(first - (flip ? c : s)) < 2e-4 && abs(second - (flip ? s : c)) < 2e-4, "t=\(t) i=\(i)")
            } }
        }
    }
}

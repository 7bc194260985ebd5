// Sinusoidal timestep embedding, matching diffusers `get_timestep_embedding`
// (diffusers/models/embeddings.py), computed in Float32 as torch does.

import Foundation
import Tensors

extension Tensor {
    /// timesteps [N] -> [N, dimension]: half = dimension / 2,
    /// freq_i = exp(-ln(maxPeriod) * i / (half - downscaleFrequencyShift)),
    /// [sin(t freq), cos(t freq)] (or [cos, sin] with `flipSinToCos`), times `scale`,
    /// zero-padded when `dimension` is odd.
    public static func timestepEmbedding(
        timesteps: [Float], dimension: Int, flipSinToCos: Bool, downscaleFrequencyShift: Float,
        scale: Float = 1, maxPeriod: Float = 10000
    ) throws -> Tensor {
        guard dimension >= 2 else { throw TensorError.invalidArgument("timestep embedding dimension \(dimension)") }
        let half = dimension / 2
        guard Float(half) - downscaleFrequencyShift != 0 else {
            throw TensorError.invalidArgument("timestep embedding: half dimension equals the frequency shift")
        }
        var out = Tensor(zeros: [timesteps.count, dimension])
        let p = out.mutablePointer()
        let logPeriod = -Float(log(Double(maxPeriod)))
        var frequencies = [Float](repeating: 0, count: half)
        for i in 0..<half {
            frequencies[i] = expf(Float(i) * logPeriod / (Float(half) - downscaleFrequencyShift))
        }
        for (row, t) in timesteps.enumerated() {
            for i in 0..<half {
                let arg = scale * (t * frequencies[i])
                let (first, second) = flipSinToCos ? (cosf(arg), sinf(arg)) : (sinf(arg), cosf(arg))
                p[row * dimension + i] = first
                p[row * dimension + half + i] = second
            }
        }
        return out
    }
}

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

extension Tensor {
    /// The guidance-scale (w) embedding of LCM pipelines (diffusers
    /// LatentConsistencyModelPipeline.get_guidance_scale_embedding, after VDM), in Float32 as
    /// torch computes it: w [N] -> [N, dimension]; with e = ln(10000) / (half - 1),
    /// [sin(1000 w exp(-e i)), cos(...)] for i < half, zero-padded when `dimension` is odd.
    public static func guidanceScaleEmbedding(_ w: [Float], dimension: Int) throws -> Tensor {
        guard dimension >= 4 else { throw TensorError.invalidArgument("guidance embedding dimension \(dimension) must be >= 4") }
        let half = dimension / 2
        let e = logf(10000) / Float(half - 1)
        let frequencies = (0..<half).map { expf(Float($0) * -e) }
        var out = Tensor(zeros: [w.count, dimension])
        let p = out.mutablePointer()
        for (row, value) in w.enumerated() {
            let scaled = value * 1000
            for i in 0..<half {
                let arg = scaled * frequencies[i]
                p[row * dimension + i] = sinf(arg)
                p[row * dimension + half + i] = cosf(arg)
            }
        }
        return out
    }
}

// Sigma-space timesteps shared by Euler and DPM-Solver++: sigma_t = sqrt((1 - abar) / abar)
// computed in float32, interpolated at the timesteps with np.interp, a final sigma of 0.

import Foundation

struct SigmaSchedule {
    /// The training sigmas in float32, as np.array(torch_float32_expression).
    static func trainingSigmas(_ alphasCumprod: [Float]) -> [Float] {
        alphasCumprod.map { ((1 - $0) / $0).squareRoot() }
    }

    /// sigmas at the (possibly fractional) timesteps, then 0; float32 as diffusers stores them.
    static func sigmas(at timesteps: [Double], alphasCumprod: [Float]) -> [Float] {
        let table = trainingSigmas(alphasCumprod).map(Double.init)
        return timesteps.map { Float(NumPy.interp($0, table)) } + [0]
    }

    /// diffusers sets alphas_cumprod[-1] = 2^-24 under zero-terminal-SNR rescaling so the last
    /// sigma stays finite (Euler and DPM-Solver++ only).
    static func alphasCumprod(_ schedule: NoiseSchedule, _ c: SchedulerConfiguration) -> [Float] {
        var a = schedule.alphasCumprod
        if c.rescaleBetasZeroSnr { a[a.count - 1] = 1.0 / 16_777_216.0 }
        return a
    }
}

// The training noise schedule shared by every scheduler: betas and their cumulative alpha
// product, computed in Float32 as diffusers does (torch.linspace in float32, betas_for_alpha_bar
// in double then float32, torch.cumprod accumulating in double), plus rescale_zero_terminal_snr.

import Foundation

public struct NoiseSchedule: Sendable {
    public let betas: [Float]
    /// alphas_cumprod[t] = prod_{s <= t} (1 - betas[s])
    public let alphasCumprod: [Float]

    public init(_ c: SchedulerConfiguration) {
        let n = c.numTrainTimesteps
        var betas: [Float]
        if let trained = c.trainedBetas {
            betas = trained.map { Float($0) }
        } else {
            switch c.betaSchedule {
            case .scaledLinear:
                betas = NoiseSchedule.torchLinspace(Float(c.betaStart.squareRoot()), Float(c.betaEnd.squareRoot()), n).map { $0 * $0 }
            case .squaredcosCapV2:
                func alphaBar(_ t: Double) -> Double { let v = cos((t + 0.008) / 1.008 * Double.pi / 2); return v * v }
                betas = (0..<n).map { i in
                    Float(min(1 - alphaBar(Double(i + 1) / Double(n)) / alphaBar(Double(i) / Double(n)), 0.999))
                }
            case .linear:
                betas = NoiseSchedule.torchLinspace(Float(c.betaStart), Float(c.betaEnd), n)
            }
        }
        if c.rescaleBetasZeroSnr { betas = NoiseSchedule.rescaleZeroTerminalSNR(betas) }
        self.betas = betas
        alphasCumprod = NoiseSchedule.cumprod(betas.map { 1 - $0 })
    }

    /// torch.cumprod on CPU float32: accumulated in double, each prefix rounded to float.
    static func cumprod(_ values: [Float]) -> [Float] {
        var acc = 1.0
        return values.map { acc *= Double($0); return Float(acc) }
    }

    /// torch.linspace(start, end, steps, dtype=float32): step = (end - start) / (steps - 1) in
    /// float; the first half counts up from start, the second half down from end.
    static func torchLinspace(_ start: Float, _ end: Float, _ steps: Int) -> [Float] {
        guard steps > 1 else { return [start] }
        let step = (end - start) / Float(steps - 1)
        let half = steps / 2
        return (0..<steps).map { i in i < half ? start + step * Float(i) : end - step * Float(steps - i - 1) }
    }

    /// diffusers rescale_zero_terminal_snr (arXiv 2305.08891, Algorithm 1), in float32.
    static func rescaleZeroTerminalSNR(_ betas: [Float]) -> [Float] {
        var sqrtBar = cumprod(betas.map { 1 - $0 }).map { $0.squareRoot() }
        let first = sqrtBar[0], last = sqrtBar[sqrtBar.count - 1]
        let scale = first / (first - last)
        sqrtBar = sqrtBar.map { ($0 - last) * scale }
        let bar = sqrtBar.map { $0 * $0 }
        var alphas = [bar[0]]
        for i in 1..<bar.count { alphas.append(bar[i] / bar[i - 1]) }
        return alphas.map { 1 - $0 }
    }
}

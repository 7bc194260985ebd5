// Port of diffusers EulerDiscreteScheduler (schedulers/scheduling_euler_discrete.py) with its
// defaults: linear sigma interpolation, final sigma 0, no churn (s_churn = 0, so no noise is
// drawn). Timesteps may be fractional (linspace spacing). Not supported: Karras/exponential/
// beta sigmas, log-linear interpolation, continuous timesteps.

import Foundation
import Tensors

public struct EulerDiscreteScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let timesteps: [Float]
    /// One per timestep plus the final 0.
    public let sigmas: [Float]
    public let initialNoiseSigma: Float

    public init(_ c: SchedulerConfiguration, steps: Int) throws {
        try c.validate()
        guard steps >= 1, steps <= c.numTrainTimesteps else {
            throw SchedulerError.invalidArgument("\(steps) inference steps; must be 1...\(c.numTrainTimesteps)")
        }
        configuration = c
        schedule = NoiseSchedule(c)
        let n = c.numTrainTimesteps
        var ts: [Float]
        switch c.timestepSpacing ?? .linspace {
        case .linspace:
            ts = NumPy.linspace(0, Double(n - 1), steps).map { Float($0) }.reversed()
        case .leading:
            let ratio = n / steps
            ts = (0..<steps).map { Float($0 * ratio) }.reversed().map { $0 + Float(c.stepsOffset) }
        case .trailing:
            let ratio = Double(n) / Double(steps)
            ts = NumPy.arange(Double(n), 0, -ratio).map { Float(NumPy.round($0)) - 1 }
        }
        timesteps = ts
        sigmas = SigmaSchedule.sigmas(at: ts.map(Double.init), alphasCumprod: SigmaSchedule.alphasCumprod(schedule, c))
        let maxSigma = sigmas.max() ?? 0
        initialNoiseSigma = [.linspace, .trailing].contains(c.timestepSpacing ?? .linspace) ? maxSigma : (maxSigma * maxSigma + 1).squareRoot()
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        let sigma = sigmas[index]
        let d = (sigma * sigma + 1).squareRoot()
        return sample.mapElements { $0 / d }
    }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        let sigma = sigmas[index]
        let predOriginal: Tensor
        switch configuration.predictionType {
        case .epsilon, .sample:
            predOriginal = try predictedOriginal(modelOutput, sample: sample, alpha: 1, sigma: sigma, type: configuration.predictionType)
        case .vPrediction:
            // diffusers' sigma-space form: the sample here is x0 + sigma eps, not the VP sample.
            let c1 = -sigma / (sigma * sigma + 1).squareRoot(), c2 = sigma * sigma + 1
            predOriginal = try modelOutput.zipElements(sample) { $0 * c1 + $1 / c2 }
        }
        let dt = sigmas[index + 1] - sigma
        return try sample.zipElements(predOriginal) { s, x0 in s + ((s - x0) / sigma) * dt }
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        let sigma = sigmas[index]
        return try original.zipElements(noise) { $0 + $1 * sigma }
    }
}

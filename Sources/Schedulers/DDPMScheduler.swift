// Port of diffusers DDPMScheduler (schedulers/scheduling_ddpm.py). Variance types fixed_small
// and fixed_small_log; noise from the caller's TorchGenerator at every step with t > 0 (one
// randn of the sample's shape, as diffusers draws it). Not supported: learned variances,
// thresholding, custom timestep lists.

import Foundation
import Tensors

public struct DDPMScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let discreteTimesteps: [Int]
    public var timesteps: [Float] { discreteTimesteps.map(Float.init) }
    public var initialNoiseSigma: Float { 1 }

    public init(_ c: SchedulerConfiguration, steps: Int) throws {
        try c.validate()
        configuration = c
        schedule = NoiseSchedule(c)
        discreteTimesteps = try Schedulers.discreteTimesteps(spacing: c.timestepSpacing ?? .leading, steps: steps,
                                                             trainSteps: c.numTrainTimesteps, offset: c.stepsOffset)
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor { sample }

    /// alphas_cumprod at the previous timestep (the next in the list), 1 past the end.
    func previousAlphaProduct(_ index: Int) -> Float {
        index + 1 < discreteTimesteps.count ? schedule.alphasCumprod[discreteTimesteps[index + 1]] : 1
    }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        let t = discreteTimesteps[index]
        let alphaProdT = schedule.alphasCumprod[t], alphaProdTPrev = previousAlphaProduct(index)
        let betaProdT: Float = 1 - alphaProdT, betaProdTPrev: Float = 1 - alphaProdTPrev
        let currentAlphaT = alphaProdT / alphaProdTPrev
        let currentBetaT: Float = 1 - currentAlphaT
        let sqrtAlpha = alphaProdT.squareRoot(), sqrtBeta = betaProdT.squareRoot()
        var predOriginal = try predictedOriginal(modelOutput, sample: sample, alpha: sqrtAlpha, sigma: sqrtBeta,
                                                 type: configuration.predictionType)
        if configuration.clipSample ?? true {
            let r = Float(configuration.clipSampleRange)
            predOriginal = predOriginal.mapElements { min(max($0, -r), r) }
        }
        let originalCoefficient = (alphaProdTPrev.squareRoot() * currentBetaT) / betaProdT
        let sampleCoefficient = currentAlphaT.squareRoot() * betaProdTPrev / betaProdT
        var previous = try predOriginal.zipElements(sample) { originalCoefficient * $0 + sampleCoefficient * $1 }
        if t > 0 {
            let noise = try noiseLike(modelOutput, &generator)
            var variance = max((1 - alphaProdTPrev) / (1 - alphaProdT) * currentBetaT, 1e-20)
            if configuration.varianceType == .fixedSmallLog {
                variance = expf(0.5 * logf(variance))
            } else {
                variance = variance.squareRoot()
            }
            previous = try previous.zipElements(noise) { $0 + variance * $1 }
        }
        return previous
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        return try addNoiseAtTimestep(original, noise: noise, alphaProduct: schedule.alphasCumprod[discreteTimesteps[index]])
    }
}

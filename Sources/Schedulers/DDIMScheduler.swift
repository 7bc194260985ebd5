// Port of diffusers DDIMScheduler (schedulers/scheduling_ddim.py): eta = 0 deterministic,
// eta > 0 stochastic with noise from the caller's TorchGenerator. The previous timestep is
// t - num_train_timesteps // steps, as in diffusers, for every spacing. Not supported:
// thresholding, use_clipped_model_output.

import Tensors

public struct DDIMScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let discreteTimesteps: [Int]
    public let eta: Float
    let stepCount: Int
    public var timesteps: [Float] { discreteTimesteps.map(Float.init) }
    public var initialNoiseSigma: Float { 1 }

    public init(_ c: SchedulerConfiguration, steps: Int, eta: Float = 0) throws {
        try c.validate()
        guard eta >= 0, eta.isFinite else { throw SchedulerError.invalidArgument("eta \(eta) must be >= 0") }
        configuration = c
        schedule = NoiseSchedule(c)
        discreteTimesteps = try Schedulers.discreteTimesteps(spacing: c.timestepSpacing ?? .leading, steps: steps,
                                                             trainSteps: c.numTrainTimesteps, offset: c.stepsOffset)
        self.eta = eta
        stepCount = steps
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor { sample }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        let t = discreteTimesteps[index]
        let prevT = t - configuration.numTrainTimesteps / stepCount
        let alphaProdT = schedule.alphasCumprod[t]
        let finalAlpha: Float = (configuration.setAlphaToOne ?? true) ? 1 : schedule.alphasCumprod[0]
        let alphaProdTPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlpha
        let betaProdT: Float = 1 - alphaProdT
        let sqrtAlpha = alphaProdT.squareRoot(), sqrtBeta = betaProdT.squareRoot()
        var predOriginal = try predictedOriginal(modelOutput, sample: sample, alpha: sqrtAlpha, sigma: sqrtBeta,
                                                 type: configuration.predictionType)
        let predEpsilon = try predictedEpsilon(modelOutput, sample: sample, original: predOriginal, alpha: sqrtAlpha, sigma: sqrtBeta,
                                               type: configuration.predictionType)
        if configuration.clipSample ?? true {
            let r = Float(configuration.clipSampleRange)
            predOriginal = predOriginal.mapElements { min(max($0, -r), r) }
        }
        let betaProdTPrev: Float = 1 - alphaProdTPrev
        let variance = (betaProdTPrev / betaProdT) * (1 - alphaProdT / alphaProdTPrev)
        let stdDevT = eta * variance.squareRoot()
        let directionCoefficient = (1 - alphaProdTPrev - stdDevT * stdDevT).squareRoot()
        let sqrtAlphaPrev = alphaProdTPrev.squareRoot()
        var previous = try predOriginal.zipElements(predEpsilon) { sqrtAlphaPrev * $0 + directionCoefficient * $1 }
        if eta > 0 {
            let noise = try noiseLike(modelOutput, &generator)
            previous = try previous.zipElements(noise) { $0 + stdDevT * $1 }
        }
        return previous
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        return try addNoiseAtTimestep(original, noise: noise, alphaProduct: schedule.alphasCumprod[discreteTimesteps[index]])
    }
}

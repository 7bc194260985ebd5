// Port of diffusers TCDScheduler (schedulers/scheduling_tcd.py), trajectory consistency
// distillation's sampler (arXiv 2402.19159) as StableDiffusionPipeline runs it with TCD LoRAs:
// LCM's timesteps (picked from `original_inference_steps`), each step a jump to the noised
// estimate at s = floor((1 - gamma) t_prev), then, for gamma > 0 and all but the last step, noise
// from the caller's generator back up to t_prev. gamma is the request's eta (diffusers passes the
// pipeline's eta, default 0; TCD's authors suggest 0.3). img2img skips steps of the full schedule
// as StableDiffusionImg2ImgPipeline does. Not supported: custom timesteps, thresholding.

import Tensors

public struct TCDScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let discreteTimesteps: [Int]
    /// gamma: 0 deterministic, 1 fully stochastic.
    public let gamma: Float
    public var timesteps: [Float] { discreteTimesteps.map(Float.init) }
    public var initialNoiseSigma: Float { 1 }

    public init(_ c: SchedulerConfiguration, steps: Int, gamma: Float = 0) throws {
        guard gamma >= 0, gamma <= 1 else { throw SchedulerError.invalidArgument("TCD gamma (eta) \(gamma) must be in [0, 1]") }
        let lcm = try LCMScheduler(c, steps: steps)
        configuration = c
        schedule = lcm.schedule
        discreteTimesteps = lcm.discreteTimesteps
        self.gamma = gamma
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor { sample }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        let t = discreteTimesteps[index]
        let isLast = index == discreteTimesteps.count - 1
        let prevT = isLast ? 0 : discreteTimesteps[index + 1]
        let s = Int((Float(1 - Double(gamma)) * Float(prevT)).rounded(.down))
        let alphaProdT = schedule.alphasCumprod[t], betaProdT: Float = 1 - alphaProdT
        let alphaProdTPrev = schedule.alphasCumprod[prevT]
        let alphaProdS = schedule.alphasCumprod[s], betaProdS: Float = 1 - alphaProdS
        let sqrtAlpha = alphaProdT.squareRoot(), sqrtBeta = betaProdT.squareRoot()
        let predOriginal = try predictedOriginal(modelOutput, sample: sample, alpha: sqrtAlpha, sigma: sqrtBeta,
                                                 type: configuration.predictionType)
        let predEpsilon = try predictedEpsilon(modelOutput, sample: sample, original: predOriginal, alpha: sqrtAlpha, sigma: sqrtBeta,
                                               type: configuration.predictionType)
        let a = alphaProdS.squareRoot(), b = betaProdS.squareRoot()
        let noised = try predOriginal.zipElements(predEpsilon) { a * $0 + b * $1 }
        guard gamma > 0, !isLast else { return noised }
        let noise = try noiseLike(modelOutput, &generator)
        let ratio = alphaProdTPrev / alphaProdS
        let keep = ratio.squareRoot(), add = (1 - ratio).squareRoot()
        return try noised.zipElements(noise) { keep * $0 + add * $1 }
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        return try addNoiseAtTimestep(original, noise: noise, alphaProduct: schedule.alphasCumprod[discreteTimesteps[index]])
    }
}

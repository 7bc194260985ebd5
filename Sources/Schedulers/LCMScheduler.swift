// Port of diffusers LCMScheduler (schedulers/scheduling_lcm.py): the multistep consistency
// sampler of latent consistency models (arXiv 2310.04378). Inference timesteps are picked,
// evenly by index, from a schedule of `original_inference_steps` timesteps
// (k - 1, 2k - 1, ... with k = num_train_timesteps // original_inference_steps); each step maps
// the sample to its consistency estimate c_skip x + c_out x0 and, except at the last step,
// noises it to the next timestep with noise from the caller's generator.
// img2img as diffusers' LCM pipelines do it: `strength` shortens the original schedule before
// the pick (so the loop starts at index 0 of a schedule made for that strength), not by
// skipping steps of the full one. Not supported: custom timesteps, thresholding. A config that
// leaves beta_start / beta_end out gets the shared defaults (0.0001, 0.02), not LCMScheduler's
// own (0.00085, 0.012); published LCM scheduler_config.json files state them.

import Tensors

public struct LCMScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let discreteTimesteps: [Int]
    /// The strength the schedule was made for (1: text-to-image).
    public let strength: Double
    public var timesteps: [Float] { discreteTimesteps.map(Float.init) }
    public var initialNoiseSigma: Float { 1 }

    public init(_ c: SchedulerConfiguration, steps: Int, strength: Double = 1) throws {
        try c.validate()
        guard strength > 0, strength <= 1 else { throw SchedulerError.invalidArgument("strength \(strength) must be in (0, 1]") }
        let original = c.originalInferenceSteps
        let k = c.numTrainTimesteps / original
        let available = Int(Double(original) * strength)
        guard steps >= 1, steps <= original else {
            throw SchedulerError.invalidArgument("\(steps) LCM steps; must be 1...\(original) (original_inference_steps)")
        }
        guard available >= steps else {
            throw SchedulerError.invalidArgument(
                "strength \(strength) leaves \(available) of the \(original) original LCM timesteps, fewer than \(steps) steps; "
                + "raise the strength or lower the step count")
        }
        let origin = (1...available).map { $0 * k - 1 }.reversed() as [Int]
        discreteTimesteps = NumPy.linspaceExcludingEnd(0, Double(available), steps).map { origin[Int($0.rounded(.down))] }
        configuration = c
        schedule = NoiseSchedule(c)
        self.strength = strength
    }

    /// The schedule was shortened for `strength` already: the loop starts at its first step.
    public func startIndex(strength: Double) throws -> Int {
        guard strength == self.strength else {
            throw SchedulerError.invalidArgument("this LCM schedule was made for strength \(self.strength), not \(strength)")
        }
        return 0
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor { sample }

    /// (c_skip, c_out) of the consistency boundary condition at timestep `t` (sigma_data 0.5),
    /// computed in Double as diffusers does and applied in Float32.
    func boundaryScalings(_ t: Int) -> (skip: Float, out: Float) {
        let sigmaData = 0.5
        let scaled = Double(t) * configuration.timestepScaling
        let skip = sigmaData * sigmaData / (scaled * scaled + sigmaData * sigmaData)
        let out = scaled / (scaled * scaled + sigmaData * sigmaData).squareRoot()
        return (Float(skip), Float(out))
    }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        let t = discreteTimesteps[index]
        let isLast = index == discreteTimesteps.count - 1
        let prevT = isLast ? t : discreteTimesteps[index + 1]
        let alphaProdT = schedule.alphasCumprod[t]
        let finalAlpha: Float = (configuration.setAlphaToOne ?? true) ? 1 : schedule.alphasCumprod[0]
        let alphaProdTPrev = prevT >= 0 ? schedule.alphasCumprod[prevT] : finalAlpha
        let betaProdT: Float = 1 - alphaProdT, betaProdTPrev: Float = 1 - alphaProdTPrev
        var predOriginal = try predictedOriginal(modelOutput, sample: sample, alpha: alphaProdT.squareRoot(),
                                                 sigma: betaProdT.squareRoot(), type: configuration.predictionType)
        if configuration.clipSample ?? false {
            let r = Float(configuration.clipSampleRange)
            predOriginal = predOriginal.mapElements { min(max($0, -r), r) }
        }
        let (cSkip, cOut) = boundaryScalings(t)
        let denoised = try predOriginal.zipElements(sample) { cOut * $0 + cSkip * $1 }
        if isLast { return denoised }
        let noise = try noiseLike(modelOutput, &generator)
        let a = alphaProdTPrev.squareRoot(), b = betaProdTPrev.squareRoot()
        return try denoised.zipElements(noise) { a * $0 + b * $1 }
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        return try addNoiseAtTimestep(original, noise: noise, alphaProduct: schedule.alphasCumprod[discreteTimesteps[index]])
    }
}

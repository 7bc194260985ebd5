// The sampling-loop interface shared by DDPM, DDIM, Euler, DPM-Solver++ and PNDM.
//
// A scheduler is an immutable value made for one number of inference steps. Its step maths is
// pure: the sample, the model output, the step index, the caller's generator and an explicit
// state (the multistep history) go in, the previous sample comes out; nothing is global.
// Steps are addressed by index into `timesteps` (diffusers' step_index), which also covers
// img2img, where the loop starts at `startIndex(strength:)`.

import Tensors

public protocol Scheduler: Sendable {
    /// The timestep fed to the model at each step (integers for DDPM/DDIM/DPM-Solver++,
    /// possibly fractional for Euler).
    var timesteps: [Float] { get }
    /// The number of inference steps it was made for (diffusers' num_inference_steps); PNDM
    /// calls the model once more than that.
    var inferenceSteps: Int { get }
    /// Standard deviation of the initial noise for text-to-image.
    var initialNoiseSigma: Float { get }
    /// The model input at step `index` (scale_model_input).
    func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor
    /// One denoising step from `timesteps[index]`.
    func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
              generator: inout TorchGenerator) throws -> Tensor
    /// Noises a clean latent to the noise level of step `index` (img2img's add_noise).
    func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor
    /// img2img: the first step index the loop runs for `strength` in (0, 1].
    func startIndex(strength: Double) throws -> Int
}

/// History a multistep scheduler carries between steps; start each loop with a fresh value.
public struct SchedulerState: Sendable {
    public var modelOutputs: [Tensor] = []
    public var lowerOrderCount = 0
    /// The calls made so far in this loop (PNDM's counter).
    public var counter = 0
    /// PNDM: the sample a multi-call step started from, and its running output sum.
    public var currentSample: Tensor?
    public var currentModelOutput: Tensor?
    public init() {}
}

/// The schedulers stylediff implements.
public enum SchedulerKind: String, CaseIterable, Codable, Sendable {
    case ddim, ddpm, euler, dpmpp, pndm, lcm, tcd

    /// A scheduler of this kind for `steps` inference steps; `strength` is img2img's (LCM
    /// shortens its schedule for it, the others skip steps in `startIndex(strength:)`).
    public func make(_ configuration: SchedulerConfiguration, steps: Int, eta: Float = 0, strength: Double = 1) throws -> any Scheduler {
        switch self {
        case .lcm: return try LCMScheduler(configuration, steps: steps, strength: strength)
        case .tcd: return try TCDScheduler(configuration, steps: steps, gamma: eta)
        case .ddim: return try DDIMScheduler(configuration, steps: steps, eta: eta)
        case .ddpm: return try DDPMScheduler(configuration, steps: steps)
        case .euler: return try EulerDiscreteScheduler(configuration, steps: steps)
        case .dpmpp: return try DPMSolverMultistepScheduler(configuration, steps: steps)
        case .pndm: return try PNDMScheduler(configuration, steps: steps)
        }
    }

    /// The kind for a diffusers scheduler class name (scheduler_config.json's _class_name), nil
    /// for a class stylediff does not implement.
    public init?(diffusersClass name: String) {
        switch name {
        case "DDIMScheduler": self = .ddim
        case "DDPMScheduler": self = .ddpm
        case "EulerDiscreteScheduler": self = .euler
        case "DPMSolverMultistepScheduler": self = .dpmpp
        case "PNDMScheduler": self = .pndm
        case "LCMScheduler": self = .lcm
        case "TCDScheduler": self = .tcd
        default: return nil
        }
    }
}

extension Scheduler {
    public var inferenceSteps: Int { timesteps.count }

    /// img2img (diffusers StableDiffusionImg2ImgPipeline.get_timesteps): the first step index
    /// kept for `strength` in (0, 1]: steps - min(Int(steps * strength), steps), counted in
    /// inference steps (so PNDM, with one call more than steps, keeps that extra call).
    public func startIndex(strength: Double) throws -> Int {
        guard strength > 0, strength <= 1 else { throw SchedulerError.invalidArgument("strength \(strength) must be in (0, 1]") }
        let n = inferenceSteps
        let kept = min(Int(Double(n) * strength), n)
        guard kept > 0 else {
            throw SchedulerError.invalidArgument("strength \(strength) keeps no step out of \(n); raise the strength or the step count")
        }
        return max(n - kept, 0)
    }

    func checkIndex(_ index: Int) throws {
        guard index >= 0, index < timesteps.count else {
            throw SchedulerError.invalidArgument("step index \(index) outside 0..<\(timesteps.count)")
        }
    }
}

/// Timesteps for leading / linspace / trailing spacing as diffusers' DDPM and DDIM compute them.
func discreteTimesteps(spacing: TimestepSpacing, steps: Int, trainSteps: Int, offset: Int) throws -> [Int] {
    guard steps >= 1, steps <= trainSteps else {
        throw SchedulerError.invalidArgument("\(steps) inference steps; must be 1...\(trainSteps)")
    }
    let timesteps: [Int]
    switch spacing {
    case .linspace:
        timesteps = NumPy.linspace(0, Double(trainSteps - 1), steps).map { Int(NumPy.round($0)) }.reversed()
    case .leading:
        let ratio = trainSteps / steps
        timesteps = (0..<steps).map { $0 * ratio + offset }.reversed()
    case .trailing:
        let ratio = Double(trainSteps) / Double(steps)
        timesteps = NumPy.arange(Double(trainSteps), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
    }
    try checkTimesteps(timesteps, trainSteps: trainSteps, steps: steps, offset: offset)
    return timesteps
}

/// Every timestep must index the training schedule: leading spacing with steps_offset can
/// reach num_train_timesteps (diffusers then fails inside the step).
func checkTimesteps(_ timesteps: [Int], trainSteps: Int, steps: Int, offset: Int) throws {
    guard let bad = timesteps.first(where: { !(0..<trainSteps).contains($0) }) else { return }
    throw SchedulerError.invalidArgument(
        "\(steps) steps with steps_offset \(offset) give timestep \(bad), outside the schedule 0...\(trainSteps - 1); use fewer steps")
}

/// DDPM/DDIM add_noise: sqrt(abar) x + sqrt(1 - abar) noise.
func addNoiseAtTimestep(_ original: Tensor, noise: Tensor, alphaProduct a: Float) throws -> Tensor {
    let s = a.squareRoot(), r = (1 - a).squareRoot()
    return try original.zipElements(noise) { s * $0 + r * $1 }
}

/// The clean sample x0 a model output predicts for a noisy `sample` = alpha x0 + sigma eps, by
/// prediction type (diffusers' pred_original_sample / convert_model_output): epsilon, v or x0.
/// DDPM and DDIM pass (sqrt(abar), sqrt(1 - abar)), DPM-Solver++ its (alpha_t, sigma_t), Euler
/// (1, sigma) for epsilon (its v form works on the sigma-scaled sample and stays there).
func predictedOriginal(_ modelOutput: Tensor, sample: Tensor, alpha: Float, sigma: Float, type: PredictionType) throws -> Tensor {
    switch type {
    case .epsilon: return try sample.zipElements(modelOutput) { ($0 - sigma * $1) / alpha }
    case .sample: return modelOutput
    case .vPrediction: return try sample.zipElements(modelOutput) { alpha * $0 - sigma * $1 }
    }
}

/// The noise a model output predicts for `sample` = alpha x0 + sigma eps, by prediction type
/// (DDIM's and TCD's pred_epsilon), given its predicted x0 for the sample type.
func predictedEpsilon(_ modelOutput: Tensor, sample: Tensor, original: Tensor, alpha: Float, sigma: Float,
                      type: PredictionType) throws -> Tensor {
    switch type {
    case .epsilon: return modelOutput
    case .sample: return try sample.zipElements(original) { ($0 - alpha * $1) / sigma }
    case .vPrediction: return try modelOutput.zipElements(sample) { alpha * $0 + sigma * $1 }
    }
}

/// Noise in torch's order for a channels-last sample [N, H, W, C].
func noiseLike(_ sample: Tensor, _ generator: inout TorchGenerator) throws -> Tensor {
    guard sample.rank == 4 else {
        return try Tensor(shape: sample.shape, values: generator.randn(count: sample.count))
    }
    return try generator.randnChannelsLast(batch: sample.shape[0], channels: sample.shape[3], height: sample.shape[1], width: sample.shape[2])
}

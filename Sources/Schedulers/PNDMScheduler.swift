// Port of diffusers PNDMScheduler (schedulers/scheduling_pndm.py), the scheduler Stable
// Diffusion 1.x folders name: pseudo linear multistep (PLMS) steps, preceded by pseudo
// Runge-Kutta (PRK) warm-up steps unless skip_prk_steps is true (SD 1.x folders set it).
//
//   timesteps (PLMS only):  d0, d1, d1, d2, ..., d(n-1) for n inference steps with discrete
//                           timesteps d (leading / linspace / trailing): n + 1 model calls, the
//                           second a correction of the first step from the same sample
//   timesteps (PRK):        12 warm-up calls around the first four timesteps, then PLMS
//   step:                   the linear multistep combination of the last model outputs (1, 2,
//                           3 or 4 of them), then x_prev from x_t in closed form
//                           (_get_prev_sample), epsilon or v prediction
//
// The step counter and the outputs it combines live in SchedulerState (counter, modelOutputs,
// currentSample, currentModelOutput): like diffusers' counter they count the calls of this loop,
// so img2img, which starts part-way, starts the multistep history afresh as diffusers does.

import Tensors

public struct PNDMScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let discreteTimesteps: [Int]
    /// The number of PRK warm-up calls at the start of `discreteTimesteps` (0 with skip_prk_steps).
    public let warmUpCount: Int
    public let inferenceSteps: Int
    public var timesteps: [Float] { discreteTimesteps.map(Float.init) }
    public var initialNoiseSigma: Float { 1 }

    public init(_ c: SchedulerConfiguration, steps: Int) throws {
        try c.validate()
        guard c.predictionType != .sample else {
            throw SchedulerError.unsupported(field: "prediction_type", value: "sample (PNDM predicts epsilon or v_prediction)")
        }
        configuration = c
        schedule = NoiseSchedule(c)
        inferenceSteps = steps
        let d = try Schedulers.discreteTimesteps(spacing: c.timestepSpacing ?? .leading, steps: steps,
                                                 trainSteps: c.numTrainTimesteps, offset: c.stepsOffset)
        if c.skipPRKSteps ?? false {
            // reversed(concat(t[:-1], t[-2:-1], t[-1:])) of the ascending timesteps t
            discreteTimesteps = d.count < 2 ? d : [d[0], d[1]] + d[1...]
            warmUpCount = 0
        } else {
            guard steps >= 4 else {
                throw SchedulerError.invalidArgument("PNDM with Runge-Kutta warm-up steps (skip_prk_steps false) needs at least 4 steps, got \(steps)")
            }
            // The last four ascending timesteps a0 < a1 < a2 < a3, each with a half step h.
            let h = c.numTrainTimesteps / steps / 2
            let a = Array(d.prefix(4).reversed())
            let warmUp = [a[3], a[2] + h, a[2] + h, a[2], a[2], a[1] + h, a[1] + h, a[1], a[1], a[0] + h, a[0] + h, a[0]]
            discreteTimesteps = warmUp + d.dropFirst(3)
            warmUpCount = warmUp.count
            try checkTimesteps(discreteTimesteps, trainSteps: c.numTrainTimesteps, steps: steps, offset: c.stepsOffset)
        }
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor { sample }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        defer { state.counter += 1 }
        if state.counter < warmUpCount {
            return try stepPRK(modelOutput, timestep: discreteTimesteps[index], sample: sample, state: &state)
        }
        return try stepPLMS(modelOutput, timestep: discreteTimesteps[index], sample: sample, state: &state)
    }

    /// scheduling_pndm.py step_prk: four calls per Runge-Kutta step, outputs weighted 1/6, 1/3, 1/3, 1/6.
    func stepPRK(_ output: Tensor, timestep given: Int, sample: Tensor, state: inout SchedulerState) throws -> Tensor {
        let counter = state.counter
        let difference = counter % 2 == 1 ? 0 : configuration.numTrainTimesteps / inferenceSteps / 2
        let previous = given - difference
        let timestep = discreteTimesteps[counter / 4 * 4]
        var modelOutput = output
        switch counter % 4 {
        case 0:
            state.currentModelOutput = try accumulate(state.currentModelOutput, output, 1.0 / 6)
            state.modelOutputs.append(output)
            state.currentSample = sample
        case 1, 2:
            state.currentModelOutput = try accumulate(state.currentModelOutput, output, 1.0 / 3)
        default:
            modelOutput = try accumulate(state.currentModelOutput, output, 1.0 / 6)
            state.currentModelOutput = nil
        }
        return try previousSample(state.currentSample ?? sample, timestep: timestep, previous: previous, modelOutput: modelOutput)
    }

    /// `sum + weight x output` (sum nil: 0 + weight x output, as diffusers' integer 0 start).
    private func accumulate(_ sum: Tensor?, _ output: Tensor, _ weight: Double) throws -> Tensor {
        let w = Float(weight)
        guard let sum else { return output.mapElements { 0 + w * $0 } }
        return try sum.zipElements(output) { $0 + w * $1 }
    }

    /// scheduling_pndm.py step_plms: Adams-Bashforth combinations of up to four outputs.
    func stepPLMS(_ output: Tensor, timestep given: Int, sample: Tensor, state: inout SchedulerState) throws -> Tensor {
        let ratio = configuration.numTrainTimesteps / inferenceSteps
        var timestep = given, previous = given - ratio
        if state.counter != 1 {
            state.modelOutputs = Array(state.modelOutputs.suffix(3)) + [output]
        } else {
            previous = given
            timestep = given + ratio
        }
        var x = sample
        let e = state.modelOutputs
        let combined: Tensor
        switch e.count {
        case 1 where state.counter == 0:
            combined = output
            state.currentSample = sample
        case 1 where state.counter == 1:
            combined = try output.zipElements(e[0]) { ($0 + $1) / 2 }
            x = state.currentSample ?? sample
            state.currentSample = nil
        case 2:
            combined = try e[1].zipElements(e[0]) { (3 * $0 - $1) / 2 }
        case 3:
            let a = try e[2].zipElements(e[1]) { 23 * $0 - 16 * $1 }
            combined = try a.zipElements(e[0]) { ($0 + 5 * $1) / 12 }
        case 4:
            let a = try e[3].zipElements(e[2]) { 55 * $0 - 59 * $1 }
            let b = try a.zipElements(e[1]) { $0 + 37 * $1 }
            let w = Float(1.0 / 24)
            combined = try b.zipElements(e[0]) { w * ($0 - 9 * $1) }
        default:
            throw SchedulerError.invalidArgument("PNDM step \(state.counter) with \(e.count) stored outputs: start each loop with a fresh SchedulerState")
        }
        return try previousSample(x, timestep: timestep, previous: previous, modelOutput: combined)
    }

    /// scheduling_pndm.py _get_prev_sample (formula (9) of the PNDM paper), in float32.
    func previousSample(_ sample: Tensor, timestep: Int, previous: Int, modelOutput: Tensor) throws -> Tensor {
        guard (0..<schedule.alphasCumprod.count).contains(timestep), previous < schedule.alphasCumprod.count else {
            throw SchedulerError.invalidArgument("PNDM timestep \(timestep) -> \(previous) outside the schedule")
        }
        let alphaProdT = schedule.alphasCumprod[timestep]
        let finalAlpha: Float = (configuration.setAlphaToOne ?? false) ? 1 : schedule.alphasCumprod[0]
        let alphaProdTPrev = previous >= 0 ? schedule.alphasCumprod[previous] : finalAlpha
        let betaProdT: Float = 1 - alphaProdT, betaProdTPrev: Float = 1 - alphaProdTPrev
        var output = modelOutput
        if configuration.predictionType == .vPrediction {
            let sa = alphaProdT.squareRoot(), sb = betaProdT.squareRoot()
            output = try modelOutput.zipElements(sample) { sa * $0 + sb * $1 }
        }
        let sampleCoefficient = (alphaProdTPrev / alphaProdT).squareRoot()
        let denominator = alphaProdT * betaProdTPrev.squareRoot() + (alphaProdT * betaProdT * alphaProdTPrev).squareRoot()
        let difference = alphaProdTPrev - alphaProdT
        return try sample.zipElements(output) { sampleCoefficient * $0 - difference * $1 / denominator }
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        return try addNoiseAtTimestep(original, noise: noise, alphaProduct: schedule.alphasCumprod[discreteTimesteps[index]])
    }
}

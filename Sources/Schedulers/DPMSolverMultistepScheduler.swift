// Port of diffusers DPMSolverMultistepScheduler (schedulers/scheduling_dpmsolver_multistep.py)
// configured as DPM-Solver++ 2M: algorithm_type dpmsolver++, solver_order 2, midpoint solver,
// lower_order_final, final sigma 0 (so the last step is first order). The history of data
// predictions lives in SchedulerState. Not supported: SDE variants, order 3, Karras/Lu sigmas.

import Foundation
import Tensors

public struct DPMSolverMultistepScheduler: Scheduler {
    public let configuration: SchedulerConfiguration
    public let schedule: NoiseSchedule
    public let discreteTimesteps: [Int]
    public let sigmas: [Float]
    public var timesteps: [Float] { discreteTimesteps.map(Float.init) }
    public var initialNoiseSigma: Float { 1 }

    public init(_ c: SchedulerConfiguration, steps: Int) throws {
        try c.validate()
        guard steps >= 1, steps < c.numTrainTimesteps else {
            throw SchedulerError.invalidArgument("\(steps) inference steps; must be 1...\(c.numTrainTimesteps - 1)")
        }
        configuration = c
        schedule = NoiseSchedule(c)
        let last = c.numTrainTimesteps  // lambda_min_clipped = -inf clips nothing
        var ts: [Int]
        switch c.timestepSpacing ?? .linspace {
        case .linspace:
            ts = Array(NumPy.linspace(0, Double(last - 1), steps + 1).map { Int(NumPy.round($0)) }.reversed().dropLast())
        case .leading:
            let ratio = last / (steps + 1)
            ts = Array((0...steps).map { $0 * ratio }.reversed().dropLast()).map { $0 + c.stepsOffset }
        case .trailing:
            let ratio = Double(c.numTrainTimesteps) / Double(steps)
            ts = NumPy.arange(Double(last), 0, -ratio).map { Int(NumPy.round($0)) - 1 }
        }
        try checkTimesteps(ts, trainSteps: c.numTrainTimesteps, steps: steps, offset: c.stepsOffset)
        discreteTimesteps = ts
        sigmas = SigmaSchedule.sigmas(at: ts.map(Double.init), alphasCumprod: SigmaSchedule.alphasCumprod(schedule, c))
    }

    public func scaleModelInput(_ sample: Tensor, stepIndex index: Int) throws -> Tensor { sample }

    /// (alpha_t, sigma_t) of the VP process for a sigma.
    func alphaSigma(_ sigma: Float) -> (Float, Float) {
        let alpha = 1 / (sigma * sigma + 1).squareRoot()
        return (alpha, sigma * alpha)
    }

    public func step(modelOutput: Tensor, stepIndex index: Int, sample: Tensor, state: inout SchedulerState,
                     generator: inout TorchGenerator) throws -> Tensor {
        try checkIndex(index)
        let n = discreteTimesteps.count
        // convert_model_output: the data prediction x0.
        let (alphaS0, sigmaS0) = alphaSigma(sigmas[index])
        let x0 = try predictedOriginal(modelOutput, sample: sample, alpha: alphaS0, sigma: sigmaS0, type: configuration.predictionType)
        state.modelOutputs = Array((state.modelOutputs + [x0]).suffix(2))
        let lowerOrderFinal = index == n - 1  // final sigma 0 always ends first order
        let lowerOrderSecond = index == n - 2 && n < 15
        let (alphaT, sigmaT) = alphaSigma(sigmas[index + 1])
        let lambdaT = logf(alphaT) - logf(sigmaT), lambdaS0 = logf(alphaS0) - logf(sigmaS0)
        let h = lambdaT - lambdaS0
        let ratio = sigmaT / sigmaS0
        let coefficient = alphaT * (expf(-h) - 1)
        var previous: Tensor
        if state.lowerOrderCount < 1 || lowerOrderFinal {
            previous = try sample.zipElements(x0) { ratio * $0 - coefficient * $1 }
        } else {
            _ = lowerOrderSecond  // order 2 is the highest here, so lower_order_second changes nothing
            let (alphaS1, sigmaS1) = alphaSigma(sigmas[index - 1])
            let lambdaS1 = logf(alphaS1) - logf(sigmaS1)
            let r0 = (lambdaS0 - lambdaS1) / h
            let m0 = state.modelOutputs[state.modelOutputs.count - 1], m1 = state.modelOutputs[state.modelOutputs.count - 2]
            let d1 = try m0.zipElements(m1) { (1 / r0) * ($0 - $1) }
            previous = try sample.zipElements(m0) { ratio * $0 - coefficient * $1 }
            previous = try previous.zipElements(d1) { $0 - 0.5 * coefficient * $1 }
        }
        if state.lowerOrderCount < 2 { state.lowerOrderCount += 1 }
        return previous
    }

    public func addNoise(_ original: Tensor, noise: Tensor, stepIndex index: Int) throws -> Tensor {
        try checkIndex(index)
        let (alpha, sigma) = alphaSigma(sigmas[index])
        return try original.zipElements(noise) { alpha * $0 + sigma * $1 }
    }
}

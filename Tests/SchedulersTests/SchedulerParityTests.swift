// Schedulers (DDPM, DDIM, Euler, DPM-Solver++, PNDM with and without PRK warm-up) against diffusers
// (fixtures from tools/make_fixtures.py): timesteps equal for
// every scheduler x spacing x {10, 20, 50} steps x strength {1, 0.6, 0.3}; 20-step loops with a
// fake model (eps = 0.8 x + 0.05 t / 1000), txt2img and img2img, each step within
// 1e-5 x max(1, max |diffusers|) of diffusers, the stochastic ones with the same seeds.
// TCD (gamma 0, 0.3, 1; epsilon, v, sample) in the same 20-step loops.
// LCM: timesteps for original_inference_steps {50, 20} x {1, 2, 4, 8, 30} steps x strength
// {1, 0.6, 0.3} (and the same refusals); 4-step loops, txt2img and img2img on the schedule made
// for strength 0.6, with the noise injected between steps from the seeded generator.

import Foundation
import Testing
import TestSupport
import SafeTensors
@testable import Schedulers
import Tensors

struct FixtureCase: Decodable {
    var timesteps: [Double]
    var start_index: Int
    var config: [String: JSONScalar]?
    var kind: String?
    var eta: Double?
    var seed: UInt64?
    var init_noise_sigma: Double?
    var steps: Int?
    var strength: Double?
}

enum JSONScalar: Decodable {
    case number(Double), string(String), bool(Bool)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let d = try? c.decode(Double.self) { self = .number(d) } else { self = .string(try c.decode(String.self)) }
    }
    var json: Any {
        switch self { case .number(let d): return d == d.rounded() && abs(d) < 1e9 ? Int(d) as Any : d as Any; case .string(let s): return s; case .bool(let b): return b }
    }
}

let cases: [String: FixtureCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.fixtures + "/schedulers.json")!
    return try! JSONDecoder().decode([String: FixtureCase].self, from: data)
}()

/// SD-style schedule used by the timestep fixtures.
func sdConfiguration(spacing: String) -> SchedulerConfiguration {
    var c = SchedulerConfiguration()
    c.betaStart = 0.00085; c.betaEnd = 0.012; c.betaSchedule = .scaledLinear
    c.timestepSpacing = TimestepSpacing(rawValue: spacing)
    c.stepsOffset = spacing == "leading" ? 1 : 0
    return c
}

func configuration(from fields: [String: JSONScalar]) throws -> SchedulerConfiguration {
    let data = try JSONSerialization.data(withJSONObject: fields.mapValues(\.json))
    return try JSONDecoder().decode(SchedulerConfiguration.self, from: data)
}

@Suite struct SchedulerParityTests {
    let tensors = try! SafetensorsFile(path: TestPaths.fixtures + "/schedulers.safetensors")

    @Test(arguments: SchedulerKind.allCases.filter { $0 != .lcm })
    func timestepsEqualDiffusers(kind: SchedulerKind) throws {
        var checked = 0
        for spacing in ["leading", "linspace", "trailing"] { for steps in [10, 20, 50] { for strength in [1.0, 0.6, 0.3] {
            let key = "\(kind.rawValue)_\(spacing)_\(steps)_\(strength)"
            let expected = try #require(cases[key], "fixture \(key)")
            let scheduler = try kind.make(sdConfiguration(spacing: spacing), steps: steps)
            let start = try scheduler.startIndex(strength: strength)
            #expect(start == expected.start_index, "\(key) start index")
            #expect(Array(scheduler.timesteps[start...]) == expected.timesteps.map { Float($0) }, "\(key) timesteps")
            checked += 1
        } } }
        #expect(checked == 27)
    }

    @Test(arguments: cases.keys.filter { $0.hasPrefix("loop_") }.sorted())
    func samplingLoopMatchesDiffusers(key: String) throws {
        let c = try #require(cases[key])
        let name = String(key.dropFirst("loop_".count))
        let kind = try #require(SchedulerKind(rawValue: c.kind ?? ""))
        let config = try configuration(from: c.config ?? [:])
        let scheduler = try kind.make(config, steps: c.steps ?? 20, eta: Float(c.eta ?? 0), strength: c.strength ?? 1)
        #expect(scheduler.timesteps[c.start_index...].map { $0 } == c.timesteps.map { Float($0) }, "\(name) timesteps")
        #expect(abs(Double(scheduler.initialNoiseSigma) - (c.init_noise_sigma ?? 1)) <= 1e-6 * max(1, c.init_noise_sigma ?? 1))
        let noise = try tensors.tensor("initial_noise").permuted([0, 2, 3, 1])
        var x: Tensor
        if name.hasSuffix("img2img") {
            x = try scheduler.addNoise(try tensors.tensor("image_latent").permuted([0, 2, 3, 1]), noise: noise, stepIndex: c.start_index)
        } else {
            x = noise * scheduler.initialNoiseSigma
        }
        try expectClose(x, name + "_start")
        var generator = TorchGenerator(seed: c.seed ?? 0)
        var state = SchedulerState()
        for (i, index) in (c.start_index..<scheduler.timesteps.count).enumerated() {
            let t = scheduler.timesteps[index]
            let input = try scheduler.scaleModelInput(x, stepIndex: index)
            let shift = Float(0.05 * (Double(t) / 1000.0))
            let eps = input.mapElements { 0.8 * $0 + shift }
            x = try scheduler.step(modelOutput: eps, stepIndex: index, sample: x, state: &state, generator: &generator)
            try expectClose(x, name + "_step\(i)")
        }
    }

    @Test func lcmTimestepsEqualDiffusers() throws {
        var checked = 0, refused = 0
        for original in [50, 20] { for steps in [1, 2, 4, 8, 30] { for strength in [1.0, 0.6, 0.3] {
            let key = "lcmsteps_\(original)_\(steps)_\(strength)"
            let expected = try #require(cases[key], "fixture \(key)")
            var config = sdConfiguration(spacing: "leading")
            config.stepsOffset = 0
            config.originalInferenceSteps = original
            if expected.start_index < 0 {
                #expect(throws: SchedulerError.self, "\(key): diffusers refuses it") {
                    try SchedulerKind.lcm.make(config, steps: steps, strength: strength)
                }
                refused += 1
                continue
            }
            let scheduler = try SchedulerKind.lcm.make(config, steps: steps, strength: strength)
            #expect(try scheduler.startIndex(strength: strength) == 0)
            #expect(scheduler.timesteps == expected.timesteps.map { Float($0) }, "\(key) timesteps")
            checked += 1
        } } }
        #expect(checked == 25 && refused == 5)
    }

    func expectClose(_ actual: Tensor, _ name: String) throws {
        let expected = try tensors.tensor(name).permuted([0, 2, 3, 1])
        let diff = try actual.maxAbsoluteDifference(expected)
        let bound = 1e-5 * max(1, expected.maxAbsolute)
        #expect(diff <= bound, "\(name): max |swift - diffusers| = \(diff) > \(bound)")
    }

    @Test(arguments: ["linear", "scaled_linear", "squaredcos_cap_v2"])
    func noiseScheduleMatchesDiffusers(schedule: String) throws {
        var c = SchedulerConfiguration()
        c.betaSchedule = try #require(BetaSchedule(rawValue: schedule))
        let ours = NoiseSchedule(c).alphasCumprod
        for kind in SchedulerKind.allCases {
            let theirs = try tensors.tensor("alphas_cumprod_\(kind.rawValue)_\(schedule)").scalars
            let worst = zip(ours, theirs).map { abs($0 - $1) / $1 }.max() ?? 1
            #expect(worst <= 1e-6, "\(kind) \(schedule): max relative difference \(worst)")
        }
    }
}

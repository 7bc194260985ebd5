// scheduler_config.json handling: diffusers names, per-class defaults, clear errors.

import Foundation
import Testing
@testable import Schedulers

@Suite struct SchedulerConfigurationTests {
    func write(_ json: String) -> String {
        let path = NSTemporaryDirectory() + "scheduler-\(UUID().uuidString).json"
        FileManager.default.createFile(atPath: path, contents: Data(json.utf8))
        return path
    }

    @Test func readsDiffusersConfig() throws {
        let path = write(#"{"_class_name": "PNDMScheduler", "_diffusers_version": "0.6.0", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": false, "skip_prk_steps": true, "steps_offset": 1, "trained_betas": null, "clip_sample": false}"#)
        let c = try SchedulerConfiguration.load(path: path)
        #expect(c.betaSchedule == .scaledLinear && c.stepsOffset == 1 && c.setAlphaToOne == false && c.clipSample == false)
        #expect(c.timestepSpacing == nil)
        #expect(try DDIMScheduler(c, steps: 10).timesteps.first == 901)
        #expect(try EulerDiscreteScheduler(c, steps: 10).timesteps.first == 999)
    }

    @Test func unsupportedValuesAreErrors() {
        #expect(throws: SchedulerError.unsupported(field: "use_karras_sigmas", value: "true")) {
            try SchedulerConfiguration.load(path: write(#"{"use_karras_sigmas": true}"#))
        }
        #expect(throws: SchedulerError.unsupported(field: "beta_schedule", value: "\"sigmoid\"")) {
            try SchedulerConfiguration.load(path: write(#"{"beta_schedule": "sigmoid"}"#))
        }
        #expect(throws: SchedulerError.unsupported(field: "prediction_type", value: "\"flow_prediction\"")) {
            try SchedulerConfiguration.load(path: write(#"{"prediction_type": "flow_prediction"}"#))
        }
        #expect(throws: SchedulerError.unsupported(field: "variance_type", value: "\"learned_range\"")) {
            try SchedulerConfiguration.load(path: write(#"{"variance_type": "learned_range"}"#))
        }
        #expect(throws: SchedulerError.unsupported(field: "timestep_spacing", value: "\"sideways\"")) {
            try SchedulerConfiguration.load(path: write(#"{"timestep_spacing": "sideways"}"#))
        }
        #expect(throws: SchedulerError.self) { try SchedulerConfiguration.load(path: write("[1]")) }
        #expect(throws: SchedulerError.self) { try SchedulerConfiguration.load(path: "/nonexistent/scheduler_config.json") }
    }

    @Test func badArgumentsAreErrors() throws {
        let c = SchedulerConfiguration()
        for kind in SchedulerKind.allCases {
            #expect(throws: SchedulerError.self) { try kind.make(c, steps: 0) }
            #expect(throws: SchedulerError.self) { try kind.make(c, steps: 5000) }
            let s = try kind.make(c, steps: 20)
            #expect(throws: SchedulerError.self) { try s.startIndex(strength: 0) }
            #expect(throws: SchedulerError.self) { try s.startIndex(strength: 1.5) }
            #expect(throws: SchedulerError.self) { try s.startIndex(strength: 0.01) }
            #expect(try s.startIndex(strength: 1) == 0)
        }
        #expect(throws: SchedulerError.self) { try DDIMScheduler(c, steps: 10, eta: -1) }
    }
}

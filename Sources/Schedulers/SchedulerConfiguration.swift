// scheduler_config.json by diffusers' field names, string choices as Codable enums. Fields left
// out take the default of the scheduler class that uses them (as diffusers' from_config does),
// so one file configures every scheduler. Values stylediff does not implement are errors, never
// ignored.

import FileAccess
import Foundation

/// diffusers' beta_schedule values stylediff implements.
public enum BetaSchedule: String, Codable, Sendable {
    case linear, scaledLinear = "scaled_linear", squaredcosCapV2 = "squaredcos_cap_v2"
}

/// What the model predicts (prediction_type).
public enum PredictionType: String, Codable, Sendable {
    case epsilon, vPrediction = "v_prediction", sample
}

/// How inference timesteps are spread over the training schedule (timestep_spacing).
public enum TimestepSpacing: String, Codable, Sendable {
    case leading, linspace, trailing
}

/// DDPM's variance_type values stylediff implements.
public enum VarianceType: String, Codable, Sendable {
    case fixedSmall = "fixed_small", fixedSmallLog = "fixed_small_log"
}

public struct SchedulerConfiguration: Decodable, Equatable, Sendable {
    public var numTrainTimesteps = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    public var betaSchedule = BetaSchedule.linear
    public var trainedBetas: [Double]?
    public var predictionType = PredictionType.epsilon
    /// nil: each scheduler's own default (leading for DDPM/DDIM, linspace for Euler/DPM-Solver++).
    public var timestepSpacing: TimestepSpacing?
    public var stepsOffset = 0
    /// nil: each scheduler's own default (true for DDIM, false for PNDM).
    public var setAlphaToOne: Bool?
    public var clipSample: Bool?
    public var clipSampleRange: Double = 1
    public var rescaleBetasZeroSnr = false
    public var varianceType: VarianceType?
    /// PNDM: PLMS steps only (true in SD 1.x folders); nil or false adds Runge-Kutta warm-up steps.
    public var skipPRKSteps: Bool?
    /// LCM: the length of the distillation schedule inference timesteps are picked from.
    public var originalInferenceSteps = 50
    /// LCM: timesteps are multiplied by this in the consistency boundary scalings.
    public var timestepScaling: Double = 10

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset", setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample", clipSampleRange = "clip_sample_range"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr", varianceType = "variance_type", skipPRKSteps = "skip_prk_steps"
        case originalInferenceSteps = "original_inference_steps", timestepScaling = "timestep_scaling"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        let d = SchedulerConfiguration()
        numTrainTimesteps = try value(.numTrainTimesteps, d.numTrainTimesteps)
        betaStart = try value(.betaStart, d.betaStart)
        betaEnd = try value(.betaEnd, d.betaEnd)
        betaSchedule = try value(.betaSchedule, d.betaSchedule)
        trainedBetas = try c.decodeIfPresent([Double].self, forKey: .trainedBetas)
        predictionType = try value(.predictionType, d.predictionType)
        timestepSpacing = try c.decodeIfPresent(TimestepSpacing.self, forKey: .timestepSpacing)
        stepsOffset = try value(.stepsOffset, d.stepsOffset)
        setAlphaToOne = try c.decodeIfPresent(Bool.self, forKey: .setAlphaToOne)
        clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample)
        clipSampleRange = try value(.clipSampleRange, d.clipSampleRange)
        rescaleBetasZeroSnr = try value(.rescaleBetasZeroSnr, d.rescaleBetasZeroSnr)
        varianceType = try c.decodeIfPresent(VarianceType.self, forKey: .varianceType)
        skipPRKSteps = try c.decodeIfPresent(Bool.self, forKey: .skipPRKSteps)
        originalInferenceSteps = try value(.originalInferenceSteps, d.originalInferenceSteps)
        timestepScaling = try value(.timestepScaling, d.timestepScaling)
    }

    /// Fields that must hold these values when present (features stylediff does not implement).
    nonisolated(unsafe) static let fixedFields: [String: Any] = [
        "thresholding": false, "use_karras_sigmas": false, "use_exponential_sigmas": false, "use_beta_sigmas": false,
        "use_lu_lambdas": false, "use_flow_sigmas": false, "use_dynamic_shifting": false, "euler_at_final": false,
        "lower_order_final": true, "solver_order": 2, "algorithm_type": "dpmsolver++", "solver_type": "midpoint",
        "final_sigmas_type": "zero", "interpolation_type": "linear", "timestep_type": "discrete",
        "sigma_min": NSNull(), "sigma_max": NSNull(),
    ]
    /// Fields without effect on the schedulers stylediff implements.
    static let ignoredFields: Set<String> = [
        "dynamic_thresholding_ratio", "sample_max_value", "lambda_min_clipped", "flow_shift",
        "time_shift_type", "use_clipped_model_output", "shift", "base_shift", "max_shift",
    ]

    /// Reads and checks a scheduler_config.json (FileAccess.JSONConfigFile, errors as SchedulerError).
    public static func load(path: String) throws -> SchedulerConfiguration {
        let config: SchedulerConfiguration
        do {
            let file = try JSONConfigFile(path: path)
            try file.checkUntypedFields(typed: Set(CodingKeys.allCases.map(\.rawValue)), implemented: fixedFields, ignored: ignoredFields)
            config = try file.decode(SchedulerConfiguration.self)
        } catch ConfigurationError.unsupported(_, let field, let value) {
            throw SchedulerError.unsupported(field: field, value: value)
        } catch let e as ConfigurationError {
            throw SchedulerError.invalidConfiguration(file: path, reason: "\(e)")
        }
        try config.validate()
        return config
    }

    /// Largest num_train_timesteps accepted (diffusers models use 1000).
    public static let maximumTrainTimesteps = 100_000

    public func validate() throws {
        guard (2...Self.maximumTrainTimesteps).contains(numTrainTimesteps) else {
            throw SchedulerError.unsupported(field: "num_train_timesteps", value: "\(numTrainTimesteps) (must be 2...\(Self.maximumTrainTimesteps))")
        }
        guard (0..<numTrainTimesteps).contains(stepsOffset) else {
            throw SchedulerError.unsupported(field: "steps_offset", value: "\(stepsOffset) (must be 0...\(numTrainTimesteps - 1))")
        }
        guard clipSampleRange.isFinite, clipSampleRange > 0 else {
            throw SchedulerError.unsupported(field: "clip_sample_range", value: "\(clipSampleRange) (must be finite and > 0)")
        }
        if let b = trainedBetas {
            if let bad = b.first(where: { !($0 > 0 && $0 < 1) }) {
                throw SchedulerError.unsupported(field: "trained_betas", value: "\(bad) (each must be in (0, 1))")
            }
        } else if betaSchedule != .squaredcosCapV2 {
            guard betaStart > 0, betaStart <= betaEnd, betaEnd < 1 else {
                throw SchedulerError.unsupported(field: "beta_start/beta_end",
                                                 value: "\(betaStart)/\(betaEnd) (need 0 < beta_start <= beta_end < 1)")
            }
        }
        guard (1...numTrainTimesteps).contains(originalInferenceSteps) else {
            throw SchedulerError.unsupported(field: "original_inference_steps",
                                             value: "\(originalInferenceSteps) (must be 1...\(numTrainTimesteps))")
        }
        guard timestepScaling.isFinite, timestepScaling > 0 else {
            throw SchedulerError.unsupported(field: "timestep_scaling", value: "\(timestepScaling) (must be finite and > 0)")
        }
        if let b = trainedBetas, b.count != numTrainTimesteps {
            throw SchedulerError.unsupported(field: "trained_betas", value: "\(b.count) values for \(numTrainTimesteps) timesteps")
        }
    }
}

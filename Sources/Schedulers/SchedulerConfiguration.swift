// scheduler_config.json by diffusers' field names. Fields left out take the default of the
// scheduler class that uses them (as diffusers' from_config does), so one file configures
// every scheduler. Values stylediff does not implement are errors, never ignored.

import FileAccess
import Foundation

public struct SchedulerConfiguration: Decodable, Equatable, Sendable {
    public var numTrainTimesteps = 1000
    public var betaStart: Double = 0.0001
    public var betaEnd: Double = 0.02
    public var betaSchedule = "linear"
    public var trainedBetas: [Double]?
    public var predictionType = "epsilon"
    public var timestepSpacing: String?
    public var stepsOffset = 0
    public var setAlphaToOne = true
    public var clipSample: Bool?
    public var clipSampleRange: Double = 1
    public var rescaleBetasZeroSnr = false
    public var varianceType: String?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numTrainTimesteps = "num_train_timesteps", betaStart = "beta_start", betaEnd = "beta_end"
        case betaSchedule = "beta_schedule", trainedBetas = "trained_betas", predictionType = "prediction_type"
        case timestepSpacing = "timestep_spacing", stepsOffset = "steps_offset", setAlphaToOne = "set_alpha_to_one"
        case clipSample = "clip_sample", clipSampleRange = "clip_sample_range"
        case rescaleBetasZeroSnr = "rescale_betas_zero_snr", varianceType = "variance_type"
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
        timestepSpacing = try c.decodeIfPresent(String.self, forKey: .timestepSpacing)
        stepsOffset = try value(.stepsOffset, d.stepsOffset)
        setAlphaToOne = try value(.setAlphaToOne, d.setAlphaToOne)
        clipSample = try c.decodeIfPresent(Bool.self, forKey: .clipSample)
        clipSampleRange = try value(.clipSampleRange, d.clipSampleRange)
        rescaleBetasZeroSnr = try value(.rescaleBetasZeroSnr, d.rescaleBetasZeroSnr)
        varianceType = try c.decodeIfPresent(String.self, forKey: .varianceType)
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
        "dynamic_thresholding_ratio", "sample_max_value", "skip_prk_steps", "lambda_min_clipped", "flow_shift",
        "time_shift_type", "use_clipped_model_output", "shift", "base_shift", "max_shift",
    ]

    /// Reads and checks a scheduler_config.json.
    public static func load(path: String) throws -> SchedulerConfiguration {
        let data: Data
        do {
            data = Data(try FileAccess.read(path, limit: 16 << 20))
        } catch {
            throw SchedulerError.invalidConfiguration(file: path, reason: "\(error)")
        }
        guard let fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw SchedulerError.invalidConfiguration(file: path, reason: "not a JSON object")
        }
        let typed = Set(CodingKeys.allCases.map(\.rawValue))
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("_") && !typed.contains(key) && !ignoredFields.contains(key) {
            guard let fixed = fixedFields[key] else { throw SchedulerError.unsupported(field: key, value: "\(value)") }
            let same: Bool
            if fixed is NSNull || value is NSNull { same = fixed is NSNull && value is NSNull }
            else if let a = fixed as? String, let b = value as? String { same = a == b }
            else if let a = fixed as? NSNumber, let b = value as? NSNumber { same = a == b }
            else { same = false }
            if !same { throw SchedulerError.unsupported(field: key, value: "\(value)") }
        }
        let config: SchedulerConfiguration
        do {
            config = try JSONDecoder().decode(SchedulerConfiguration.self, from: data)
        } catch {
            throw SchedulerError.invalidConfiguration(file: path, reason: "\(error)")
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
        } else if betaSchedule != "squaredcos_cap_v2" {
            guard betaStart > 0, betaStart <= betaEnd, betaEnd < 1 else {
                throw SchedulerError.unsupported(field: "beta_start/beta_end",
                                                 value: "\(betaStart)/\(betaEnd) (need 0 < beta_start <= beta_end < 1)")
            }
        }
        if trainedBetas == nil, !["linear", "scaled_linear", "squaredcos_cap_v2"].contains(betaSchedule) {
            throw SchedulerError.unsupported(field: "beta_schedule", value: betaSchedule)
        }
        if let b = trainedBetas, b.count != numTrainTimesteps {
            throw SchedulerError.unsupported(field: "trained_betas", value: "\(b.count) values for \(numTrainTimesteps) timesteps")
        }
        guard ["epsilon", "v_prediction", "sample"].contains(predictionType) else {
            throw SchedulerError.unsupported(field: "prediction_type", value: predictionType)
        }
        if let s = timestepSpacing, !["leading", "linspace", "trailing"].contains(s) {
            throw SchedulerError.unsupported(field: "timestep_spacing", value: s)
        }
        if let v = varianceType, !["fixed_small", "fixed_small_log"].contains(v) {
            throw SchedulerError.unsupported(field: "variance_type", value: v)
        }
    }
}

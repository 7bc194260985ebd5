// What the test targets share: the package's paths, one tolerance check that prints the max
// difference (llm.c's validate_result), seeded random tensors, and the reference-sampler cases
// of tools/make_fixtures.py with their mapping to a GenerationRequest, and the lock around the
// process-wide kernel variant.

import CKernels
import Foundation
import PNGIO
import Pipeline
import SafeTensors
import Schedulers
import Tensors
import Testing

public enum TestPaths {
    /// The package root (this file is Tests/TestSupport/TestSupport.swift).
    public static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    /// Tests/Fixtures, written by tools/make_fixtures.py.
    public static let fixtures = packageRoot + "/Tests/Fixtures"
    /// The tiny default-layout model's reference cases and images.
    public static let pipelineFixtures = fixtures + "/pipeline"
    /// The tiny default-layout model.
    public static let fixtureModel = pipelineFixtures + "/model"
    /// Tiny random diffusers StableDiffusionPipeline folders (SD 1.x, SD 2.x v-prediction) and
    /// diffusers' outputs for them (sd_cases.json, sd_outputs.safetensors, sd_photo.png).
    public static let sd15Folder = fixtures + "/sd15_tiny"
    public static let sd2Folder = fixtures + "/sd2_tiny_v"
    /// The public IP-Adapter's layout for the SD 1.x fixture (image_encoder/, ip-adapter_sd15.safetensors).
    public static let ipAdapterFolder = fixtures + "/sd_ip_adapter"
    /// The shipped default model and its parity fixtures.
    public static let shippedModel = packageRoot + "/Weights/default"
    public static let defaultModelFixtures = fixtures + "/default_model"
    /// Reference images shipped with the prompt files.
    public static let promptImages = packageRoot + "/Prompts/images"
}

/// Model folders the tests build from the fixtures (in the temporary folder; callers remove them).
public enum TestModels {
    /// The fixture model with a unet_lcm/ (its UNet plus a guidance projection scaled by
    /// `projection`); `extraTensor` adds a tensor the model does not use (a malformed file).
    public static func withConsistencyUNet(projection: Float, extraTensor: Bool = false) throws -> String {
        let fm = FileManager.default
        let dir = NSTemporaryDirectory() + "lcm-model-\(UUID().uuidString)"
        try fm.createDirectory(atPath: dir + "/unet_lcm", withIntermediateDirectories: true)
        for part in try fm.contentsOfDirectory(atPath: TestPaths.fixtureModel) {
            try fm.createSymbolicLink(atPath: dir + "/" + part, withDestinationPath: TestPaths.fixtureModel + "/" + part)
        }
        let source = TestPaths.fixtureModel + "/unet"
        let data = try #require(fm.contents(atPath: source + "/config.json"))
        var config = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        config["time_cond_proj_dim"] = 8
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/unet_lcm/config.json"))
        let file = try SafetensorsFile(path: source + "/diffusion_pytorch_model.safetensors")
        var tensors = try file.names.sorted().map { ($0, try file.tensor($0)) }
        let width = try #require((config["block_out_channels"] as? [Int])?.first)
        let values = (0..<(width * 8)).map { Float(($0 * 37) % 11 - 5) * projection }
        tensors.append(("time_embedding.cond_proj.weight", try Tensor(shape: [width, 8], values: values)))
        if extraTensor { tensors.append(("bogus.weight", try Tensor(shape: [2], values: [1, 2]))) }
        try SafetensorsWriter.write(tensors, to: dir + "/unet_lcm/diffusion_pytorch_model.safetensors")
        return dir
    }

    /// The fixture model (links to its parts) with the vae_tiny/ parity fixture, and in each
    /// of `malformed` (component folders) a weights file holding one more tensor than the model
    /// uses ("bogus.weight").
    public static func withTinyVAE(malformed: [String] = []) throws -> String {
        let fm = FileManager.default
        let dir = NSTemporaryDirectory() + "tiny-vae-model-\(UUID().uuidString)"
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: false)
        for part in try fm.contentsOfDirectory(atPath: TestPaths.fixtureModel) where !malformed.contains(part) {
            try fm.createSymbolicLink(atPath: dir + "/" + part, withDestinationPath: TestPaths.fixtureModel + "/" + part)
        }
        try fm.createSymbolicLink(atPath: dir + "/vae_tiny", withDestinationPath: TestPaths.fixtures + "/vae_tiny")
        for part in malformed {
            let source = TestPaths.fixtureModel + "/" + part
            try fm.createDirectory(atPath: dir + "/" + part, withIntermediateDirectories: false)
            for name in try fm.contentsOfDirectory(atPath: source) {
                guard name.hasSuffix(".safetensors") else {
                    try fm.createSymbolicLink(atPath: dir + "/" + part + "/" + name, withDestinationPath: source + "/" + name)
                    continue
                }
                let file = try SafetensorsFile(path: source + "/" + name)
                var tensors = try file.names.sorted().map { ($0, try file.tensor($0)) }
                tensors.append(("bogus.weight", try Tensor(shape: [2], values: [1, 2])))
                try SafetensorsWriter.write(tensors, to: dir + "/" + part + "/" + name)
            }
        }
        return dir
    }
}

/// Checks max |actual - expected| <= tolerance x max(1, max |expected|), printing the difference
/// and the bound either way.
public func expectClose(_ actual: Tensor, _ expected: Tensor, _ what: String, tolerance: Float = 1e-4,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    let diff = try actual.maxAbsoluteDifference(expected)
    let bound = tolerance * max(1, expected.maxAbsolute)
    print("\(what): max difference \(diff) (bound \(bound), max |reference| \(expected.maxAbsolute))")
    #expect(diff <= bound, "\(what): max difference \(diff) > \(bound)", sourceLocation: sourceLocation)
}

/// SplitMix64: a small seeded generator for test inputs.
public struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A tensor of seeded uniform values in `range`.
public func randomTensor(_ shape: [Int], seed: UInt64, range: ClosedRange<Float> = -1...1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    var t = Tensor(zeros: shape)
    let p = t.mutablePointer()
    for i in 0..<t.count { p[i] = Float.random(in: range, using: &g) }
    return t
}

/// Max |a - b| relative to max(1, max |b|).
public func relativeError(_ a: Tensor, _ b: Tensor) throws -> Float {
    try a.maxAbsoluteDifference(b) / max(1, b.maxAbsolute)
}

/// The bit patterns of a tensor's values (for byte-identity checks).
public func bytes(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

/// One reference-sampler case of tools/make_fixtures.py (cases.json), by its JSON names.
public struct PipelineCase: Decodable, Sendable {
    public var prompt: String
    public var negative: String?
    public var style_images: [String]?
    public var style_weights: [Float]?
    public var blend: String?
    public var style_strength: Float?
    public var guidance: Float?
    public var scheduler: String?
    public var eta: Float?
    public var seed: UInt64
    public var init_image: String?
    public var strength: Double?
    public var style_preset: String?
    public var style_snap: Float?
    public var width: Int?
    public var height: Int?
    public var clip_skip: Int?
    public var steps: Int?
    public var style_blocks: String?
}

/// The request a case describes; its images are NAME.png in `images`.
public func request(_ c: PipelineCase, images: String) throws -> GenerationRequest {
    var r = GenerationRequest(prompt: c.prompt)
    r.negativePrompt = c.negative ?? ""
    let weights = c.style_weights ?? Array(repeating: 1, count: c.style_images?.count ?? 0)
    r.styleImages = try zip(c.style_images ?? [], weights).map {
        StyleReference(image: try PNGCodec.read(path: images + "/\($0).png").image, weight: $1)
    }
    r.blend = try #require(StyleBlend(rawValue: c.blend ?? "linear"))
    r.stylePreset = c.style_preset
    r.styleStrength = c.style_strength ?? 1
    r.styleSnap = c.style_snap ?? 0
    r.guidanceScale = c.guidance ?? 5
    r.scheduler = try #require(SchedulerKind(rawValue: c.scheduler ?? "ddim"))
    r.eta = c.eta ?? 0
    r.seed = c.seed
    if let i = c.init_image { r.initImage = try PNGCodec.read(path: images + "/\(i).png").image }
    r.strength = c.strength ?? 0.6
    r.width = c.width
    r.height = c.height
    r.clipSkip = c.clip_skip ?? 1
    r.steps = c.steps ?? r.steps
    r.styleBlockScales = try c.style_blocks.map { try StyleBlockScales(json: $0) }
    return r
}

/// The kernel variant (`ck_force_path`) is one setting for the whole process, and suites run
/// side by side: every test that forces a variant, or compares how two loads packed a matrix
/// (whether small half matrices stay halves follows the variant), holds this lock for its whole
/// body: `let variant = KernelVariantLock.hold(); defer { variant.release() }`.
public enum KernelVariantLock {
    private static let mutex = NSLock()

    /// Takes the lock, notes the variant in force and sets the automatic choice (0).
    public static func hold() -> Held {
        mutex.lock()
        return Held(saved: ck_force_path(0))
    }

    /// The variant in force when the lock was taken.
    public struct Held: Sendable {
        let saved: Int32
        /// Puts the noted variant back (the lock stays held).
        public func restore() { _ = ck_force_path(saved) }
        /// Puts the noted variant back, then unlocks: the variant is never left forced unlocked.
        public func release() {
            restore()
            KernelVariantLock.mutex.unlock()
        }
    }
}

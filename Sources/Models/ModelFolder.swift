// Locating the files of a diffusers model folder.

import Foundation
import Tensors

public enum ModelFolder {
    /// The weight file names looked for in a component folder, in order: diffusers' and
    /// transformers' full-precision names first (what from_pretrained loads without a variant),
    /// then their fp16 variants (what `variant="fp16"` downloads have alone).
    public static let weightFileNames = ["diffusion_pytorch_model.safetensors", "model.safetensors",
                                         "diffusion_pytorch_model.fp16.safetensors", "model.fp16.safetensors"]

    /// `config.json` and the weights file of a diffusers component folder: the first of
    /// `weightFileNames` that exists.
    public static func files(_ directory: String) throws -> (config: String, weights: String) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingFile(path: directory)
        }
        let config = directory + "/config.json"
        guard fm.fileExists(atPath: config) else { throw ModelError.missingFile(path: config) }
        for name in weightFileNames {
            let path = directory + "/" + name
            if fm.fileExists(atPath: path) { return (config, path) }
        }
        for pickle in ["diffusion_pytorch_model.bin", "pytorch_model.bin", "diffusion_pytorch_model.fp16.bin", "pytorch_model.fp16.bin"]
        where fm.fileExists(atPath: directory + "/" + pickle) {
            throw ModelError.unreadableFile(path: directory + "/" + pickle, reason: "PyTorch pickles are not read (they can run code); "
                + "save the model with safe_serialization=True, or download its .safetensors files")
        }
        throw ModelError.missingFile(path: directory + "/{" + weightFileNames.joined(separator: ",") + "}")
    }

    /// The configuration and weights of a component folder. The model's
    /// init(configuration:store:) checks every count and width against the weights
    /// (ConfigurationLimits) before it uses them, however it was called.
    static func component<C: ComponentConfiguration>(_ directory: String, _ type: C.Type) throws -> (C, WeightStore) {
        let (config, weights) = try files(directory)
        return (try C.load(path: config), try WeightStore(path: weights))
    }
}

/// A component's config.json type: loaded strictly, then bounded by its weight file.
public protocol ComponentConfiguration {
    static func load(path: String) throws -> Self
    func checkLimits(_ limits: ConfigurationLimits) throws
}

extension UNet2DConditionConfiguration: ComponentConfiguration {}
extension AutoencoderKLConfiguration: ComponentConfiguration {}
extension CLIPTextConfiguration: ComponentConfiguration {}

/// A component model loaded from its folder: config.json (strict, bounded by the weights) and
/// the weights, every tensor of which must be used.
public protocol ComponentModel {
    associatedtype Configuration: ComponentConfiguration
    init(configuration: Configuration, store: WeightStore) throws
}

extension ComponentModel {
    /// Loads config.json and the weights of a component folder (ModelFolder.files).
    public init(directory: String) throws {
        self = try Self.prepare(directory: directory).build()
    }

    /// The same with LoRA updates for `component` fused into the weights as they are read, and
    /// GEMM weights held at `precision`.
    public init(directory: String, loras: [LoRA], component: LoRA.Component, precision: WeightPrecision = .stored) throws {
        self = try Self.prepare(directory: directory, loras: loras, component: component, precision: precision).build()
    }

    /// The first half of `init(directory:loras:component:precision:)`: config.json read and
    /// bounded by the weights file (whose header is read and checked), the LoRAs for
    /// `component` attached (none without one); the weights are built by `build`, to be called
    /// once (it consumes the store's record of used tensors), which throws what the init would
    /// about them.
    public static func prepare(directory: String, loras: [LoRA] = [], component: LoRA.Component? = nil,
                               precision: WeightPrecision = .stored) throws -> (configuration: Configuration, build: () throws -> Self) {
        let (configuration, store) = try ModelFolder.component(directory, Configuration.self)
        try configuration.checkLimits(ConfigurationLimits(config: store.file.path, weights: store.file))
        store.precision = precision
        if let component { for lora in loras { try lora.attach(to: store, component: component) } }
        return (configuration, {
            let model = try Self(configuration: configuration, store: store)
            try store.finish()
            return model
        })
    }
}

extension AutoencoderKL: ComponentModel {}
extension CLIPTextModel: ComponentModel {}

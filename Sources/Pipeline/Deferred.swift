// A part of a model whose configuration is known at load and whose weights are built on first
// use, once (StyleDiffusionPipeline's `deferModels`): a one-image command builds only what its
// request runs. A `--fast` image of the default model never packs unet/, the VAE or the style
// encoder (together ~20 ms of a ~90 ms command), a DDIM one never packs unet_lcm/.

import Foundation
import Models

final class Deferred<Model>: @unchecked Sendable {
    private var build: (() throws -> Model)?
    private var result: Result<Model, any Error>?
    private let lock = NSLock()

    /// `build` runs on the first `model()` call.
    init(build: @escaping () throws -> Model) {
        self.build = build
    }

    /// An already built model.
    init(loaded model: Model) {
        result = .success(model)
    }

    /// The model, built by the first caller (others wait); a failure is kept and thrown again.
    func model() throws -> Model {
        lock.lock()
        defer { lock.unlock() }
        if let result { return try result.get() }
        let built = Result { () throws -> Model in
            guard let build else { throw PipelineError.invalidModel("weights already consumed") }
            return try build()
        }
        result = built
        build = nil
        return try built.get()
    }
}

/// A UNet with what the pipeline checks at load (its configuration, whether it has a style
/// adapter) known before its weights are built.
struct DeferredUNet {
    let configuration: UNet2DConditionConfiguration
    let hasStyleAdapter: Bool
    private let slot: Deferred<UNet2DConditionModel>

    /// Built on first use from `prepared` (UNet2DConditionModel.prepare).
    init(_ prepared: UNet2DConditionModel.Prepared) {
        configuration = prepared.configuration
        hasStyleAdapter = prepared.hasStyleAdapter
        slot = Deferred(build: prepared.load)
    }

    /// An already built model.
    init(loaded model: UNet2DConditionModel) {
        configuration = model.configuration
        hasStyleAdapter = model.styleAdapter != nil
        slot = Deferred(loaded: model)
    }

    func model() throws -> UNet2DConditionModel { try slot.model() }
}

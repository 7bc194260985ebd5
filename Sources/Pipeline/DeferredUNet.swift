// A UNet whose configuration is known at load and whose weights are built on first use
// (UNet2DConditionModel.Prepared): a one-image `--fast` command never packs unet/, a DDIM one
// never packs unet_lcm/ (each ~35 ms of a 0.2 s command and 24 MB for the default model).

import Foundation
import Models

final class DeferredUNet: @unchecked Sendable {
    let configuration: UNet2DConditionConfiguration
    let hasStyleAdapter: Bool
    private var prepared: UNet2DConditionModel.Prepared?
    private var result: Result<UNet2DConditionModel, any Error>?
    private let lock = NSLock()

    init(_ prepared: UNet2DConditionModel.Prepared) {
        configuration = prepared.configuration
        hasStyleAdapter = prepared.hasStyleAdapter
        self.prepared = prepared
    }

    /// An already built model.
    init(loaded model: UNet2DConditionModel) {
        configuration = model.configuration
        hasStyleAdapter = model.styleAdapter != nil
        result = .success(model)
    }

    /// The model, built by the first caller (others wait); a failure is kept and thrown again.
    func model() throws -> UNet2DConditionModel {
        lock.lock()
        defer { lock.unlock() }
        if let result { return try result.get() }
        let built = Result { () throws -> UNet2DConditionModel in
            guard let prepared else { throw PipelineError.invalidModel("UNet weights already consumed") }
            return try prepared.load()
        }
        result = built
        prepared = nil
        return try built.get()
    }
}

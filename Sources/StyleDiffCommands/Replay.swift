// `stylediff replay IMAGE.png`: regenerates an image from the parameters stored in it; with the
// same model and inputs the new file is byte-identical.

import ArgumentParser
import Foundation
import PNGIO
import Pipeline
import Tensors

public struct Replay: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Regenerate an image from the parameters stored in its PNG.")

    @Argument(help: "A PNG written by stylediff.")
    public var image: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write (default: IMAGE with -replay before .png).")
    public var output: String?

    @OptionGroup public var common: ModelOptions

    @Flag(help: "Replace an existing output file.")
    public var overwrite = false

    public init() {}

    public static func record(in path: String) throws -> GenerationRecord {
        let texts: [PNGTextChunk]
        do { texts = try PNGCodec.readTexts(path: path) } catch { throw CLIError(error) }
        guard let json = texts.first(where: { $0.keyword == "stylediff" }) else {
            throw CLIError(.dataError, "\(path) holds no stylediff parameters")
        }
        do {
            return try JSONDecoder().decode(GenerationRecord.self, from: Data(json.text.utf8))
        } catch {
            throw CLIError(.dataError, "\(path): unreadable stylediff parameters (\(error.localizedDescription))")
        }
    }

    public func run() throws {
        try reportingErrors {
            common.startWriting()
            let record = try Replay.record(in: image)
            // The recorded IP-Adapter and LoRA paths unless --ip-adapter / --lora name where they are
            // now; the recorded --weights unless given.
            let given = try common.loras()
            let loras = given.isEmpty ? (record.loras ?? []).map { LoRASpec(path: $0.path, scale: $0.weight ?? 1) } : given
            let runner = try Runner(modelDirectory: common.directory, ipAdapter: common.ipAdapter ?? record.ipAdapter?.path, loras: loras,
                                    weights: common.weights ?? record.weights ?? .stored, deferModels: true)
            guard runner.modelHash == record.modelHash else {
                throw CLIError(.dataError, "\(image) was made with model \(record.modelHash.prefix(10)), this is \(runner.modelHash.prefix(10))")
            }
            let path = output ?? (image.hasSuffix(".png") ? String(image.dropLast(4)) + "-replay.png" : image + "-replay.png")
            let request = try runner.prepare(record, invalid: .dataError)
            _ = try runner.run(record, request, to: path, overwrite: overwrite, progress: Progress(label: path))
            print(path)
        }
    }
}

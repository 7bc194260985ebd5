// The Swift pipeline against the PyTorch reference sampler (tools/sample.py) on a tiny random
// model in the default layout (tools/make_fixtures.py --only pipeline): final latents within
// 1e-3 x max(1, max |reference|), decoded pixels within 2/255, for txt2img, image style, blends,
// img2img and several schedulers with the same seeds. Also byte-identical PNGs at 1 and 2 threads.

import Foundation
import Testing
import PNGIO
@testable import Pipeline
import TestSupport
import SafeTensors
import Schedulers
import Tensors

let pipelineCases: [String: PipelineCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.pipelineFixtures + "/cases.json") ?? Data()
    return (try? JSONDecoder().decode([String: PipelineCase].self, from: data)) ?? [:]
}()

@Suite(.serialized) struct PipelineParityTests {
    static let pipeline = try! StyleDiffusionPipeline(directory: TestPaths.fixtureModel)

    @Test(arguments: pipelineCases.keys.sorted())
    func matchesReferenceSampler(name: String) throws {
        let c = try #require(pipelineCases[name])
        let pipeline = Self.pipeline
        let latents = try pipeline.denoise(request(c, images: TestPaths.pipelineFixtures))
        let expected = try SafetensorsFile(path: TestPaths.pipelineFixtures + "/latents.safetensors").tensor(name + "_latents").permuted([0, 2, 3, 1])
        try expectClose(latents, expected, "\(name) latents", tolerance: 1e-3)
        let image = try pipeline.decode(latents)
        let reference = try PNGCodec.read(path: TestPaths.pipelineFixtures + "/\(name).png").image
        let pixelDiff = zip(image.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        print("\(name): max pixel difference \(pixelDiff)/255")
        #expect(pixelDiff <= 2, "\(name): pixels differ by \(pixelDiff)/255")
    }

    @Test func sameBytesAtOneAndTwoThreadsAndAcrossRuns() throws {
        defer { Parallelism.setThreadCount(0) }
        var outputs: [[UInt8]] = []
        for threads in [1, 2, 2] {
            Parallelism.setThreadCount(threads)
            var r = try request(try #require(pipelineCases["img2img_style_euler"]), images: TestPaths.pipelineFixtures)
            r.steps = 8
            outputs.append(try PNGCodec.encode(Self.pipeline.generate(r)))
        }
        #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2])
    }

    @Test func progressAndCancellation() throws {
        var r = GenerationRequest(prompt: "folder icon")
        r.steps = 6
        var seen: [Int] = []
        _ = try Self.pipeline.generate(r) { step, total in seen.append(step); #expect(total == 6); return true }
        #expect(seen == [1, 2, 3, 4, 5, 6])
        #expect(throws: PipelineError.cancelled) { try Self.pipeline.generate(r) { step, _ in step < 3 } }
    }

    @Test func invalidRequestsAreErrors() throws {
        var r = GenerationRequest(prompt: "x")
        r.guidanceScale = -1
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        r = GenerationRequest(prompt: "x")
        r.steps = 0
        #expect(throws: PipelineError.invalidRequest("steps must be between 1 and 1000, got 0")) { try Self.pipeline.denoise(r) }
        r = GenerationRequest(prompt: "x")
        r.initImage = try RGBImage(width: 64, height: 64, red: 1, green: 2, blue: 3)
        r.strength = 0
        #expect(throws: PipelineError.invalidRequest("strength must be in (0, 1], got 0.0")) { try Self.pipeline.denoise(r) }
        r.strength = 0.01
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        r = GenerationRequest(prompt: "x")
        r.eta = 1.5
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        let style = try RGBImage(width: 64, height: 64, red: 9, green: 9, blue: 9)
        r = GenerationRequest(prompt: "x")
        r.styleImages = [StyleReference(image: style), StyleReference(image: style), StyleReference(image: style)]
        r.blend = .slerp
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        r.blend = .linear
        r.styleImages = [StyleReference(image: style, weight: 0)]
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        r.styleImages = [StyleReference(image: style)]
        r.styleSnap = 0.1  // this model has no style presets to snap to
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        r.styleSnap = -1
        #expect(throws: PipelineError.self) { try Self.pipeline.denoise(r) }
        #expect(throws: PipelineError.self) { try StyleDiffusionPipeline(directory: TestPaths.pipelineFixtures) }
    }
}

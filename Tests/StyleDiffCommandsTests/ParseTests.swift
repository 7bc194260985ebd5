// Argument parsing and validation of every option, without running a model.

import Foundation
import ArgumentParser
import Testing
@testable import StyleDiffCommands
@testable import Pipeline
import Schedulers

@Suite struct ParseTests {
    @Test func generateParsesEveryOption() throws {
        let g = try Generate.parse([
            "folder icon", "--style", "papirus", "--style-image", "a.png:0.5", "--style-image", "b:c.png", "--style-strength", "0.7",
            "--blend", "slerp", "--negative", "blurry", "--steps", "30", "--scheduler", "ddim", "--eta", "0.3", "--guidance", "7.5",
            "--seed", "42", "--count", "3", "--threads", "2", "--model", "/m", "-o", "out-{index}.png", "--overwrite", "--json",
        ])
        let o = g.options
        #expect(g.prompt == "folder icon" && o.style == "papirus" && o.negative == "blurry")
        #expect(o.styleImages == [StyleImageSpec(argument: "a.png:0.5")!, StyleImageSpec(argument: "b:c.png")!])
        #expect(o.styleImages[0].path == "a.png" && o.styleImages[0].weight == 0.5 && o.styleImages[1].path == "b:c.png" && o.styleImages[1].weight == 1)
        #expect(o.styleStrength == 0.7 && o.blend == .slerp && o.steps == 30 && o.scheduler == .ddim && o.eta == 0.3)
        #expect(o.guidance == 7.5 && o.seed == 42 && o.count == 3 && o.common.threads == 2 && o.common.model == "/m")
        #expect(o.overwrite && o.json && o.outputPath(index: 2, seed: 44) == "out-2.png")
        let d = try Generate.parse(["x"]).options
        let noPreset = try Generate.parse(["x", "--no-style-preset"]).options
        #expect(d.stylePreset && !noPreset.stylePreset)
        let snap = try Generate.parse(["x", "--style-image", "a.png", "--style-snap", "0.05"]).options.styleSnap
        #expect(d.styleSnap == 0 && snap == 0.05)
        #expect(d.steps == nil && d.resolvedSteps == 20 && d.scheduler == nil && d.guidance == nil && d.styleStrength == nil && d.seed == nil
                && d.output == "stylediff-{seed}.png")
    }

    @Test func loraOptionsParse() throws {
        let g = try Generate.parse(["x", "--lora", "a.safetensors", "--lora", "b:c.safetensors:0.5", "--lora", "d:-1", "--scheduler", "lcm"])
        #expect(try g.options.common.loras() == [LoRASpec(path: "a.safetensors"), LoRASpec(path: "b:c.safetensors", scale: 0.5),
                                                 LoRASpec(path: "d", scale: -1)])
        #expect(g.options.scheduler == .lcm)
        for bad in [":0.5", "a:nan", "a:1e9", ""] {
            #expect(throws: (any Error).self, "--lora \(bad)") { try Generate.parse(["x", "--lora", bad]) }
        }
    }

    /// sampling_defaults.json: fields optional, values filled in only where nothing was asked,
    /// the reference strength only with style images; malformed files name the file and field.
    @Test func samplingDefaults() throws {
        let full = try SamplingDefaults.parse(Data(#"{"guidance_scale": 10, "reference_style_strength": 2}"#.utf8), path: "m/s.json")
        #expect(full.guidance(nil) == 10 && full.guidance(3) == 3)
        #expect(full.styleStrength(nil, hasStyleImages: true) == 2 && full.styleStrength(nil, hasStyleImages: false) == 1)
        #expect(full.styleStrength(0.5, hasStyleImages: true) == 0.5)
        let partial = try SamplingDefaults.parse(Data(#"{"guidance_scale": 7.5}"#.utf8), path: "m/s.json")
        #expect(partial.guidance(nil) == 7.5 && partial.styleStrength(nil, hasStyleImages: true) == 1)
        #expect(try SamplingDefaults.parse(Data("{}".utf8), path: "m/s.json") == SamplingDefaults())
        #expect(SamplingDefaults().guidance(nil) == 5)
        for (text, message) in [(#"{"guidance": 10}"#, "m/s.json: configuration field 'guidance' = 10 is not supported"),
                                (#"{"guidance_scale": -1}"#, "'guidance_scale' must be between 0.0 and 100.0, got -1.0"),
                                (#"{"reference_style_strength": 1e30}"#, "'reference_style_strength' must be between 0.0 and 20.0"),
                                (#"{"reference_style_strength": "2"}"#, "field 'reference_style_strength'"),
                                ("[10]", "not a JSON object")] {
            do {
                _ = try SamplingDefaults.parse(Data(text.utf8), path: "m/s.json")
                Issue.record("\(text) was accepted")
            } catch {
                let e = CLIError(error)
                #expect(e.kind == .dataError && e.message.contains(message), "\(e.message)")
            }
        }
        let missing = try SamplingDefaults.load(modelDirectory: "/nonexistent-model-folder")
        #expect(missing == SamplingDefaults())
    }

    @Test(arguments: [
        ["x", "--steps", "0"], ["x", "--steps", "1001"], ["x", "--guidance=-1"], ["x", "--style-strength=-0.5"],
        ["x", "--eta=-1"], ["x", "--eta", "0.5", "--scheduler", "euler"], ["x", "--count", "0"], ["x", "--count", "2", "-o", "a.png"],
        ["x", "--threads", "0"], ["x", "--scheduler", "lms"], ["x", "--width", "0"], ["x", "--height", "9999"], ["x", "--clip-skip", "0"], ["x", "--blend", "cubic"], ["x", "--blend", "slerp", "--style-image", "a.png"],
        ["x", "--style-image", "a.png:-1"], ["x", "--style-image", "a.png:0"], ["x", "--seed=-3"], ["x", "-o", ""], [],
        ["x", "--style-snap", "0.1"], ["x", "--style-image", "a.png", "--style-snap=-1"], ["x", "--style-image", "a.png", "--style-snap", "inf"],
    ])
    func generateRejects(_ arguments: [String]) {
        #expect(throws: (any Error).self, "\(arguments)") { try Generate.parse(arguments) }
    }

    @Test func convertValidates() throws {
        let c = try Convert.parse(["in.png", "--style", "breeze", "--strength", "0.4"])
        #expect(c.input == "in.png" && c.strength == 0.4 && c.options.style == "breeze")
        for bad in [["in.png", "--style", "b", "--strength", "0"], ["in.png", "--style", "b", "--strength", "1.5"], ["in.png"], []] {
            #expect(throws: (any Error).self, "\(bad)") { try Convert.parse(bad) }
        }
    }

    @Test func otherCommandsParse() throws {
        #expect(try Batch.parse(["p.jsonl", "--out-dir", "o", "--overwrite"]).outDir == "o")
        #expect(try Replay.parse(["a.png", "-o", "b.png"]).output == "b.png")
        #expect(try Styles.parse(["--model", "m"]).common.model == "m")
        #expect(try Info.parse(["--threads", "1"]).common.threads == 1)
        #expect(throws: (any Error).self) { try Replay.parse([]) }
    }

    @Test func helpListsEnumValuesFromTheTypes() {
        let help = Generate.helpMessage()
        for kind in SchedulerKind.allCases { #expect(help.contains(kind.rawValue)) }
        for blend in StyleBlend.allCases { #expect(help.contains(blend.rawValue)) }
        #expect(StyleDiff.helpMessage().contains("replay"))
    }

    @Test func promptComposition() {
        #expect(composePrompt("folder icon", style: "papirus") == "folder icon, papirus style")
        #expect(composePrompt("", style: "breeze") == "breeze style")
        #expect(composePrompt(" star ", style: nil) == "star")
        let names = ["noto", "papirus"]
        #expect(styleNamed(in: composePrompt("folder icon", style: "papirus"), among: names) == "papirus")
        #expect(styleNamed(in: " heart emoji ,  NOTO Style ", among: names) == "noto")
        #expect(styleNamed(in: composePrompt("", style: "papirus"), among: names) == "papirus")
        for prompt in ["folder icon", "folder icon, breeze style", "papirus style icon", "folder icon, papirus", "", ", style"] {
            #expect(styleNamed(in: prompt, among: names) == nil, "'\(prompt)'")
        }
    }

    @Test func recordTextIsStable() throws {
        let r = GenerationRecord(mode: .generate, prompt: "folder icon, papirus style", negativePrompt: "blurry", style: "papirus",
                                 stylePreset: nil, styleImages: [InputFile(path: "/x/ref.png", weight: 0.5, sha256: "ab")], blend: .linear,
                                 styleStrength: 0.8, styleSnap: nil, guidanceScale: 5, steps: 20, scheduler: .ddim, eta: 0, seed: 7,
                                 initImage: nil, strength: nil, fit: nil, clipSkip: nil, modelHash: "0123456789abcdef", width: 64, height: 64)
        #expect(r.parametersText == """
            folder icon, papirus style
            Negative prompt: blurry
            Steps: 20, Sampler: ddim, CFG scale: 5.0, Seed: 7, Size: 64x64, Model hash: 0123456789, Style: papirus, Style images: ref.png:0.5, Style strength: 0.8, Blend: linear
            """)
        let decoded = try JSONDecoder().decode(GenerationRecord.self, from: Data(try r.json().utf8))
        #expect(decoded == r)
        #expect(try r.json() == (try decoded.json()))
        #expect(!(try r.json()).contains("style_snap"), "no snap: the record is as before")
        var snapped = r
        snapped.styleSnap = 0.05
        #expect(snapped.parametersText.hasSuffix("Style strength: 0.8, Style snap: 0.05, Blend: linear"))
        #expect(try JSONDecoder().decode(GenerationRecord.self, from: Data(try snapped.json().utf8)) == snapped)
        // Records from before non-square sizes store "size"; they decode as width = height = size.
        let legacy = try r.json().replacingOccurrences(of: #""height":64,"#, with: "").replacingOccurrences(of: #","width":64"#, with: #","size":64"#)
        #expect(legacy.contains(#""size":64"#) && !legacy.contains("width"))
        #expect(try JSONDecoder().decode(GenerationRecord.self, from: Data(legacy.utf8)) == r)
        let both = try r.json().replacingOccurrences(of: #""width":64"#, with: #""width":64,"size":64"#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(GenerationRecord.self, from: Data(both.utf8)) }
        var sized = r
        (sized.width, sized.height, sized.clipSkip) = (96, 64, 2)
        #expect(sized.parametersText.contains("Size: 96x64") && sized.parametersText.contains("Clip skip: 2"))
    }

    /// One settings type from both entry points: CLI options and the equivalent batch line give
    /// equal values, and the settings' JSON is the batch-line format.
    @Test func optionsAndBatchLinesGiveTheSameSettings() throws {
        let o = try Generate.parse(["folder icon", "--style", "papirus", "--seed", "3", "--steps", "12", "--scheduler", "euler",
                                    "--guidance", "7", "--style-image", "a.png:2", "--negative", "dark"]).options
        let fromOptions = o.settings(prompt: "folder icon", initImage: nil, strength: nil)
        let line = #"{"prompt": "folder icon", "style": "papirus", "seed": 3, "steps": 12, "scheduler": "euler", "guidance": 7, "#
            + #""style_images": ["a.png:2.0"], "blend": "linear", "negative": "dark", "eta": 0, "style_snap": 0, "style_preset": true}"#
        let fromLine = try JSONDecoder().decode(BatchLine.self, from: Data(line.utf8))
        #expect(fromLine.settings == fromOptions)
        #expect(try JSONDecoder().decode(GenerationSettings.self, from: JSONEncoder().encode(fromOptions)) == fromOptions)
        #expect(fromOptions.problems().isEmpty)
        var s = GenerationSettings()
        #expect(s.problems() == ["needs a prompt, a style or style images"])
        s.prompt = "x"
        s.strength = 0.5
        #expect(s.problems() == ["strength applies to an init image only"])
        s.initImage = "in.png"
        s.steps = 1
        #expect(s.problems().first?.contains("keeps no step") == true)
        s.steps = nil
        s.styleImages = ["a.png:-1"]
        #expect(s.problems() == ["style images must be PATH or PATH:WEIGHT with a weight >= 0"])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(BatchLine.self, from: Data(#"{"scheduler": "lms"}"#.utf8)) }
    }
}

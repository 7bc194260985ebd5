// The built `stylediff` executable run as a subprocess on the tiny fixture model: outputs,
// exit codes, stderr messages, no file left behind on failure, byte-identical replay and
// thread counts, resumable batches, and golden hashes per scheduler.

import Foundation
import Testing
import TestSupport
import Pipeline
import PNGIO
@testable import StyleDiffCommands

let packageRoot = TestPaths.packageRoot
let fixtureModel = TestPaths.fixtureModel
let fixtureImages = TestPaths.pipelineFixtures

struct RunResult { var status: Int32; var stdout: String; var stderr: String }

func stylediff(_ arguments: [String], cwd: String? = nil) throws -> RunResult {
    let binary = packageRoot + "/.build/debug/stylediff"
    guard FileManager.default.isExecutableFile(atPath: binary) else {
        Issue.record("\(binary) is missing: run `swift build` before `swift test`")
        return RunResult(status: -1, stdout: "", stderr: "")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binary)
    p.arguments = arguments
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "STYLEDIFF_MODEL")
    p.environment = env
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return RunResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

func temporaryFolder() throws -> String {
    let path = NSTemporaryDirectory() + "stylediff-e2e-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func sha256(_ path: String) throws -> String { try SHA256Digest.hex(file: path) }

@Suite(.serialized) struct EndToEndTests {
    @Test func generateThenReplayIsByteIdenticalAtAnyThreadCount() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["generate", "folder icon", "--style", "papirus", "--seed", "11", "--steps", "6", "--model", fixtureModel]
        let one = try stylediff(base + ["--threads", "1", "-o", dir + "/t1.png"])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout == dir + "/t1.png\n")
        #expect(try stylediff(base + ["--threads", "2", "-o", dir + "/t2.png"]).status == 0)
        #expect(try sha256(dir + "/t1.png") == sha256(dir + "/t2.png"))
        let replay = try stylediff(["replay", dir + "/t1.png", "-o", dir + "/r.png", "--model", fixtureModel])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == sha256(dir + "/t1.png"))
    }

    @Test func convertWithStyleImageAndJSON() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try stylediff(["convert", fixtureImages + "/init.png", "--style-image", fixtureImages + "/style_a.png:2", "--strength", "0.5",
                               "--scheduler", "euler", "--steps", "6", "--seed", "3", "--count", "2", "-o", dir + "/c-{index}-{seed}.png",
                               "--json", "--model", fixtureModel])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try JSONDecoder().decode([OutputResult].self, from: Data(r.stdout.utf8))
        #expect(results.map(\.file) == [dir + "/c-0-3.png", dir + "/c-1-4.png"])
        #expect(results.map(\.seed) == [3, 4] && results.allSatisfy { $0.status == "written" && ($0.seconds ?? -1) >= 0 })
        #expect(r.stdout.contains("\"seed\":3"), "numbers are JSON numbers: \(r.stdout)")
        let replay = try stylediff(["replay", dir + "/c-1-4.png", "--model", fixtureModel])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/c-1-4-replay.png") == sha256(dir + "/c-1-4.png"))
    }

    @Test func randomSeedIsPrintedAndStored() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try stylediff(["generate", "star", "--steps", "2", "-o", dir + "/s-{seed}.png", "--model", fixtureModel])
        #expect(r.status == 0)
        let seed = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("stylediff: seed ") }.map { String($0.dropFirst(16)) })
        #expect(FileManager.default.fileExists(atPath: dir + "/s-\(seed).png"))
    }

    @Test func failuresExitWithCodesAndLeaveNoFile() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/o.png"
        let cases: [([String], Int32, String)] = [
            (["generate", "x", "--style", "cubism", "-o", out, "--model", fixtureModel], 65, "unknown style 'cubism'"),
            (["generate", "x", "-o", out, "--model", dir + "/nomodel"], 66, "does not exist"),
            (["generate", "x", "--style-image", dir + "/absent.png", "-o", out, "--model", fixtureModel], 66, "no such file"),
            (["generate", "x", "--style-image", fixtureModel + "/styles.json", "-o", out, "--model", fixtureModel], 66, "not a PNG"),
            (["generate", "x", "-o", dir + "/missing/o.png", "--model", fixtureModel], 73, "does not exist"),
            (["generate", "x", "--steps", "0", "-o", out, "--model", fixtureModel], 64, "steps must be between 1 and 1000"),
            (["generate", "x", "--guidance=-2", "-o", out, "--model", fixtureModel], 64, "guidance must be between 0.0 and 100.0"),
            (["convert", fixtureImages + "/init.png", "--style", "tango", "--strength", "1.5", "-o", out, "--model", fixtureModel], 64, "strength must be in (0, 1]"),
            (["convert", dir + "/absent.png", "--style", "tango", "-o", out, "--model", fixtureModel], 66, "no such file"),
            (["replay", fixtureModel + "/styles.json", "--model", fixtureModel], 66, "not a PNG"),
            (["replay", fixtureImages + "/init.png", "--model", fixtureModel], 65, "holds no stylediff parameters"),
        ]
        for (args, code, message) in cases {
            let r = try stylediff(args)
            #expect(r.status == code, "\(args): exit \(r.status), stderr \(r.stderr)")
            #expect(r.stderr.contains(message), "\(args): stderr \(r.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "\(args) left a file behind")
        }
        // An existing output is kept unless --overwrite.
        FileManager.default.createFile(atPath: out, contents: Data("keep".utf8))
        let r = try stylediff(["generate", "x", "--steps", "2", "-o", out, "--model", fixtureModel])
        #expect(r.status == 73 && r.stderr.contains("exists"))
        #expect(FileManager.default.contents(atPath: out) == Data("keep".utf8))
        #expect(try stylediff(["generate", "x", "--steps", "2", "-o", out, "--overwrite", "--model", fixtureModel]).status == 0)
        #expect(FileManager.default.contents(atPath: out) != Data("keep".utf8))
    }

    @Test func batchRunsResumesAndReportsBadLines() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: fixtureImages + "/style_b.png", toPath: dir + "/ref.png")
        let prompts = """
            # two images
            {"name": "a", "prompt": "folder icon", "style": "tango", "seed": 1, "steps": 3}

            {"name": "b", "prompt": "star", "style_images": ["ref.png:1"], "seed": 2, "steps": 3, "scheduler": "dpmpp"}
            """
        try prompts.write(toFile: dir + "/p.jsonl", atomically: true, encoding: .utf8)
        let first = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--json", "--model", fixtureModel])
        #expect(first.status == 0, "\(first.stderr)")
        let hashA = try sha256(dir + "/out/a.png")
        let again = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--json", "--model", fixtureModel])
        #expect(again.stdout.contains("skipped") && !again.stdout.contains("written"))
        #expect(try sha256(dir + "/out/a.png") == hashA)
        try "{\"prompt\": \"x\", \"steps\": 0}\n".write(toFile: dir + "/bad.jsonl", atomically: true, encoding: .utf8)
        let bad = try stylediff(["batch", dir + "/bad.jsonl", "--out-dir", dir + "/out2", "--model", fixtureModel])
        #expect(bad.status == 65 && bad.stderr.contains("bad.jsonl:1"))
    }

    /// Golden SHA-256 of generate/convert outputs on the fixture model, one per scheduler:
    /// a change means generation is no longer reproducible from a seed (or the maths changed
    /// on purpose: then regenerate the values and say so in the commit).
    @Test(arguments: ["ddim", "ddpm", "euler", "dpmpp"])
    func goldenHashes(scheduler: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let g = try stylediff(["generate", "folder icon", "--style", "breeze", "--scheduler", scheduler, "--seed", "21", "--steps", "5",
                               "-o", dir + "/g.png", "--model", fixtureModel])
        // Inputs by path relative to the package root: the path is stored in the PNG, so the
        // bytes do not depend on where the checkout lives.
        let c = try stylediff(["convert", "Tests/Fixtures/pipeline/init.png", "--style", "tango", "--scheduler", scheduler, "--seed", "22",
                               "--steps", "5", "--strength", "0.8", "-o", dir + "/c.png", "--model", fixtureModel], cwd: packageRoot)
        #expect(g.status == 0 && c.status == 0, "\(g.stderr) \(c.stderr)")
        let hashes = "\(try sha256(dir + "/g.png")) \(try sha256(dir + "/c.png"))"
        print("golden \(scheduler): \(hashes)")
        #expect(hashes == (try golden(goldenValues))[scheduler], "\(scheduler): \(hashes)")
    }
}

/// The shipped model (Weights/default): per scheduler, generate and convert outputs hash to the
/// recorded values at 1 and 2 threads, and replay reproduces them. Record new values (and say so
/// in the commit) whenever the shipped weights change.
@Suite(.serialized) struct ShippedModelTests {
    static let model = packageRoot + "/Weights/default"

    @Test(arguments: ["ddim", "ddpm", "euler", "dpmpp"])
    func goldenHashesAtOneAndTwoThreads(scheduler: String) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var hashes: [String] = []
        for threads in ["1", "2"] {
            let g = try stylediff(["generate", "folder icon", "--style", "papirus", "--scheduler", scheduler, "--seed", "7",
                                   "--threads", threads, "-o", dir + "/g\(threads).png", "--model", Self.model])
            let c = try stylediff(["convert", "Prompts/images/tango-desktop.png", "--prompt", "desktop icon",
                                   "--style", "breeze", "--scheduler", scheduler, "--seed", "8", "--threads", threads,
                                   "-o", dir + "/c\(threads).png", "--model", Self.model], cwd: packageRoot)
            #expect(g.status == 0 && c.status == 0, "\(g.stderr) \(c.stderr)")
            hashes.append("\(try sha256(dir + "/g\(threads).png")) \(try sha256(dir + "/c\(threads).png"))")
        }
        print("shipped golden \(scheduler): \(hashes[0])")
        #expect(hashes[0] == hashes[1], "1 and 2 threads differ")
        #expect(hashes[0] == (try golden(shippedGoldenValues))[scheduler], "\(scheduler): \(hashes[0])")
        let replay = try stylediff(["replay", dir + "/c1.png", "-o", dir + "/r.png", "--model", Self.model], cwd: packageRoot)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == sha256(dir + "/c1.png"))
    }

    /// The record stored in an output PNG.
    func record(_ path: String) throws -> GenerationRecord {
        let chunk = try #require(try PNGCodec.readTexts(path: path).first { $0.keyword == "stylediff" })
        return try JSONDecoder().decode(GenerationRecord.self, from: Data(chunk.text.utf8))
    }

    /// A style named by --style or at the end of the prompt uses the model's style preset (the
    /// same image either way); --no-style-preset and style images turn it off; replay keeps it.
    @Test func stylePresetsFollowThePrompt() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ name: String, _ arguments: [String]) throws -> GenerationRecord {
            let r = try stylediff(["generate"] + arguments + ["--seed", "5", "--steps", "4", "-o", dir + "/\(name).png", "--model", Self.model],
                                  cwd: packageRoot)
            #expect(r.status == 0, "\(r.stderr)")
            return try record(dir + "/\(name).png")
        }
        #expect(try run("style", ["folder icon", "--style", "papirus"]).stylePreset == "papirus")
        #expect(try run("prompt", ["folder icon, Papirus style"]).stylePreset == "papirus")
        #expect(try run("off", ["folder icon", "--style", "papirus", "--no-style-preset"]).stylePreset == nil)
        #expect(try run("image", ["folder icon", "--style", "papirus", "--style-image", "Prompts/images/tango-desktop.png"]).stylePreset == nil)
        #expect(try run("unknown", ["folder icon, watercolour style"]).stylePreset == nil)
        #expect(try sha256(dir + "/style.png") != sha256(dir + "/off.png"))
        let replay = try stylediff(["replay", dir + "/style.png", "-o", dir + "/replay.png", "--model", Self.model], cwd: packageRoot)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/replay.png") == sha256(dir + "/style.png"))
        #expect(try record(dir + "/style.png").parametersText.contains("Style preset: papirus, Style strength: 1.0"))
    }

    /// The shipped sampling_defaults.json: left out, guidance is the model's 10 and the style
    /// strength 2 with a style image, 1 with a preset; asked-for values win; batch lines alike.
    @Test func modelSamplingDefaultsFillWhatIsLeftOut() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ name: String, _ arguments: [String]) throws -> GenerationRecord {
            let r = try stylediff(["generate", "folder icon"] + arguments + ["--seed", "5", "--steps", "2", "-o", dir + "/\(name).png",
                                                                          "--model", Self.model], cwd: packageRoot)
            #expect(r.status == 0, "\(r.stderr)")
            return try record(dir + "/\(name).png")
        }
        let image = try run("image", ["--style-image", "Prompts/images/tango-desktop.png"])
        #expect(image.guidanceScale == 10 && image.styleStrength == 2)
        let preset = try run("preset", ["--style", "papirus"])
        #expect(preset.guidanceScale == 10 && preset.styleStrength == 1)
        let asked = try run("asked", ["--style-image", "Prompts/images/tango-desktop.png", "--guidance", "5", "--style-strength", "1"])
        #expect(asked.guidanceScale == 5 && asked.styleStrength == 1)
        #expect(try sha256(dir + "/image.png") != sha256(dir + "/asked.png"))
        try #"{"name": "b", "prompt": "folder icon", "style_images": ["\#(packageRoot)/Prompts/images/tango-desktop.png"], "seed": 5, "steps": 2}"#
            .write(toFile: dir + "/p.jsonl", atomically: true, encoding: .utf8)
        let batch = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--model", Self.model])
        #expect(batch.status == 0, "\(batch.stderr)")
        let line = try record(dir + "/out/b.png")
        #expect(line.guidanceScale == 10 && line.styleStrength == 2)
    }

    /// --style-snap: stored in the record (and its text), replayed byte for byte, and it changes
    /// the image; without it the record has no style_snap at all.
    @Test func styleSnapIsRecordedAndReplayed() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ name: String, _ extra: [String]) throws -> GenerationRecord {
            let r = try stylediff(["generate", "folder icon", "--style-image", "Prompts/images/tango-desktop.png", "--style-strength", "2",
                                   "--seed", "5", "--steps", "4", "-o", dir + "/\(name).png", "--model", Self.model] + extra, cwd: packageRoot)
            #expect(r.status == 0, "\(r.stderr)")
            return try record(dir + "/\(name).png")
        }
        let snapped = try run("snap", ["--style-snap", "0.01"])
        #expect(snapped.styleSnap == 0.01 && snapped.parametersText.contains("Style snap: 0.01"))
        #expect(try run("raw", []).styleSnap == nil)
        #expect(try sha256(dir + "/snap.png") != sha256(dir + "/raw.png"))
        let replay = try stylediff(["replay", dir + "/snap.png", "-o", dir + "/replay.png", "--model", Self.model], cwd: packageRoot)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/replay.png") == sha256(dir + "/snap.png"))
    }
}

/// The OpenBLAS core the CLI runs on (`stylediff info`): its sgemm kernels round differently,
/// so golden bytes are recorded per core. This machine kind runs "Haswell" (OPENBLAS_CORETYPE is
/// set to it) and "Cooperlake" without it; the others were recorded by forcing OPENBLAS_CORETYPE.
func blasCore() throws -> String {
    let info = try stylediff(["info", "--model", fixtureModel])
    let line = info.stdout.split(separator: "\n").first { $0.hasPrefix("BLAS core") }
    return line.map { String($0.dropFirst("BLAS core".count)).trimmingCharacters(in: .whitespaces) } ?? "unknown"
}

/// The golden table for this machine's BLAS core; an issue naming the core when none is recorded
/// (then record it: run the golden tests with that core and copy the printed hashes).
func golden(_ tables: [String: [String: String]]) throws -> [String: String] {
    let core = try blasCore()
    guard let table = tables[core] else {
        Issue.record("no golden hashes recorded for OpenBLAS core \(core) (have \(tables.keys.sorted()))")
        return [:]
    }
    return table
}

let shippedGoldenValues: [String: [String: String]] = [
    "Haswell": [
        "ddim": "b1cf2d6de3640f560605f7283f748dcd7290bb87324d042f4da89d3682328ac9 4fc841cc6b9c9a664e10cc1e8191824398dff43a1c858eb817cf511feda5eac9",
        "ddpm": "6f072ceae39d028e00797b467470dca06896b4a8157ce3e2713a40a3462ccd06 34915781476bb50bcbbd72c5956e4031477673020adab0530f72bc3b9e47e2c9",
        "euler": "d112192a840de56c4515c267dff431211397454d4d69c127b14fc3721040e892 ec3709fba7458a1af92fc0a3de75dc8b9de7e16bf0473d3296bc0cb5e924692c",
        "dpmpp": "4054111b86db9b7987ea854cce4758e4c89603451165631150f239f378a995f6 4ff1b9dabd1fe430511bf9e0f0cc7342c05a39bf49331eb2f09d5a86606d504e",
    ],
    "Cooperlake": [
        "ddim": "b1cf2d6de3640f560605f7283f748dcd7290bb87324d042f4da89d3682328ac9 4fc841cc6b9c9a664e10cc1e8191824398dff43a1c858eb817cf511feda5eac9",
        "ddpm": "9ed01f0177d08713e7c990bf342217fdf378c95a00b5d76680f8c05dddc53c75 1e752aa1568096c95bb2d4f08ba6389d3b52c421b3a614144c09c095486c869c",
        "euler": "d112192a840de56c4515c267dff431211397454d4d69c127b14fc3721040e892 ec3709fba7458a1af92fc0a3de75dc8b9de7e16bf0473d3296bc0cb5e924692c",
        "dpmpp": "4054111b86db9b7987ea854cce4758e4c89603451165631150f239f378a995f6 4ff1b9dabd1fe430511bf9e0f0cc7342c05a39bf49331eb2f09d5a86606d504e",
    ],
    "SkylakeX": [
        "ddim": "b1cf2d6de3640f560605f7283f748dcd7290bb87324d042f4da89d3682328ac9 4fc841cc6b9c9a664e10cc1e8191824398dff43a1c858eb817cf511feda5eac9",
        "ddpm": "9ed01f0177d08713e7c990bf342217fdf378c95a00b5d76680f8c05dddc53c75 52328e5714d9c3c1fecce918ed378e114e3795aade482ff00ea00a6d021601f5",
        "euler": "1fb6d3ea86c883d678ce9cd679ffbd27af77ff98e37f57f5c18726c1d1a22554 ec3709fba7458a1af92fc0a3de75dc8b9de7e16bf0473d3296bc0cb5e924692c",
        "dpmpp": "4054111b86db9b7987ea854cce4758e4c89603451165631150f239f378a995f6 6faee5411c48ded2d010b5cee176fefebb1a51a87385cf9231ae96b26e921771",
    ],
    "Zen": [
        "ddim": "b1cf2d6de3640f560605f7283f748dcd7290bb87324d042f4da89d3682328ac9 4fc841cc6b9c9a664e10cc1e8191824398dff43a1c858eb817cf511feda5eac9",
        "ddpm": "6f072ceae39d028e00797b467470dca06896b4a8157ce3e2713a40a3462ccd06 34915781476bb50bcbbd72c5956e4031477673020adab0530f72bc3b9e47e2c9",
        "euler": "d112192a840de56c4515c267dff431211397454d4d69c127b14fc3721040e892 ec3709fba7458a1af92fc0a3de75dc8b9de7e16bf0473d3296bc0cb5e924692c",
        "dpmpp": "4054111b86db9b7987ea854cce4758e4c89603451165631150f239f378a995f6 4ff1b9dabd1fe430511bf9e0f0cc7342c05a39bf49331eb2f09d5a86606d504e",
    ],
]

let goldenValues: [String: [String: String]] = [
    "Haswell": [
        "ddim": "ad9639d4e38999f61e02f6626584f166cde0fbff0d918568c2201dd0604a61c1 e724f8106025ae1f23689166e887d9c092c053370f2cde517aec1431dcb9eb55",
        "ddpm": "92bea705c8379071cc7d356c44aae8b3cfb434785548f4df57b9661a8b128064 d961f43f6af0faa43349ee4181b03e147ed3dc13b23d0e49277ccb6e113303f3",
        "euler": "a1863e731dc05294f5efa6dbfe99dd5d027aea9f915e107fce4d571d42923a55 55d41e53cc8bdda2f7c783d408b8523fafff530c4cf509d0e7671d235011393b",
        "dpmpp": "a7d5bee982567e1be29a85234f51a6440bbf0634ccea8f535b1d3dceea7c1f7d 22ecf2b0d57aeaa3d3cf5230f844cb01e104d1d7cfa0597c6804db94e8ebed47",
    ],
    "Cooperlake": [
        "ddim": "63e08d283badb7158b63297302b4f54f450e9659d2726fdcc41f693fd6fee044 324b6e286a338f8a8071cec3f2c187a21ed9f070c92d37ee1b17a4c350dff406",
        "ddpm": "cc37b2e707e924e692e73be0f1b55e0f2696b3aa64503153e2d0e974fc3a0f29 aa72c4fa0d96bd94b8571976c3bbdd50bbec58f33abd14fd47f1d9ad8e6a4766",
        "euler": "d6e4c654690328ca5fb2e3fd7dd65596a9150a20ee4c2bd598243063319d7f81 55d41e53cc8bdda2f7c783d408b8523fafff530c4cf509d0e7671d235011393b",
        "dpmpp": "edb62c45791ef9542848f8ce5bb7bc1185e2030c7ecd1ea1de34e3b88901197d 91e49c2e3ce4c8889460b0fe665ebda04ec0bde7ec18b5215b6af0894e761af1",
    ],
    "SkylakeX": [
        "ddim": "63e08d283badb7158b63297302b4f54f450e9659d2726fdcc41f693fd6fee044 e724f8106025ae1f23689166e887d9c092c053370f2cde517aec1431dcb9eb55",
        "ddpm": "34a06510eabe807660a15aa25b482e0b8eb93fde9dbea732f4a819b03695bafd d961f43f6af0faa43349ee4181b03e147ed3dc13b23d0e49277ccb6e113303f3",
        "euler": "d6e4c654690328ca5fb2e3fd7dd65596a9150a20ee4c2bd598243063319d7f81 55d41e53cc8bdda2f7c783d408b8523fafff530c4cf509d0e7671d235011393b",
        "dpmpp": "edb62c45791ef9542848f8ce5bb7bc1185e2030c7ecd1ea1de34e3b88901197d 91e49c2e3ce4c8889460b0fe665ebda04ec0bde7ec18b5215b6af0894e761af1",
    ],
    "Zen": [
        "ddim": "ad9639d4e38999f61e02f6626584f166cde0fbff0d918568c2201dd0604a61c1 e724f8106025ae1f23689166e887d9c092c053370f2cde517aec1431dcb9eb55",
        "ddpm": "92bea705c8379071cc7d356c44aae8b3cfb434785548f4df57b9661a8b128064 d961f43f6af0faa43349ee4181b03e147ed3dc13b23d0e49277ccb6e113303f3",
        "euler": "a1863e731dc05294f5efa6dbfe99dd5d027aea9f915e107fce4d571d42923a55 55d41e53cc8bdda2f7c783d408b8523fafff530c4cf509d0e7671d235011393b",
        "dpmpp": "a7d5bee982567e1be29a85234f51a6440bbf0634ccea8f535b1d3dceea7c1f7d 22ecf2b0d57aeaa3d3cf5230f844cb01e104d1d7cfa0597c6804db94e8ebed47",
    ],
]

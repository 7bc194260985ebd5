// The built `stylediff` executable run as a subprocess on the tiny fixture model: outputs,
// exit codes, stderr messages, no file left behind on failure, byte-identical replay and
// thread counts, resumable batches, and golden hashes per scheduler.

import Foundation
import Testing
import Pipeline

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
let fixtureModel = packageRoot + "/Tests/Fixtures/pipeline/model"
let fixtureImages = packageRoot + "/Tests/Fixtures/pipeline"

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
        let results = try JSONDecoder().decode([[String: String]].self, from: Data(r.stdout.utf8))
        #expect(results.map { $0["file"] } == [dir + "/c-0-3.png", dir + "/c-1-4.png"])
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
            (["generate", "x", "--steps", "0", "-o", out, "--model", fixtureModel], 64, "--steps must be between 1 and 1000"),
            (["generate", "x", "--guidance=-2", "-o", out, "--model", fixtureModel], 64, "--guidance must be >= 0"),
            (["convert", fixtureImages + "/init.png", "--style", "tango", "--strength", "1.5", "-o", out, "--model", fixtureModel], 64, "--strength"),
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
        #expect(hashes == goldenValues[scheduler], "\(scheduler): \(hashes)")
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
        #expect(hashes[0] == shippedGoldenValues[scheduler], "\(scheduler): \(hashes[0])")
        let replay = try stylediff(["replay", dir + "/c1.png", "-o", dir + "/r.png", "--model", Self.model], cwd: packageRoot)
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == sha256(dir + "/c1.png"))
    }
}

let shippedGoldenValues: [String: String] = [
    "ddim": "c2d2d8eadb261ce4984208d3e09067adb2f213f32a4ebf20e06b22341f53b942 a44fe816b753204669604212645a97f2d8ea01ddaea2eb622623b57feaea1828",
    "ddpm": "3139bd6745828417a7c1c2747dd062a76a6f8719c4bd476b7e9050505290a99d 4bb585ec89079e557321df644c778cc73306e7ca95a57fa8317160d9e2a29331",
    "euler": "33b449ee508c98654218d592fbe9de78b1f0dcba63a6200d06fc19b1fa3626d7 93bd09c85b240be48e4a521891b3b526e388f4e898e70ef9d6246572ea70beaf",
    "dpmpp": "1c63ba5e7d9b995e671476fa2aeb5345f196d0a0b8dc7a43993d7c11c7d9db82 ce6e585bf0b9a914e0d7a12efe206b7d681fd31d14a8b3d2d7e11350ae63e4d1",
]

let goldenValues: [String: String] = [
    "ddim": "5c6914c0bd17b3b353760efba38964c79ecb96723a4c0a85ab0ce7613c377ca7 e724f8106025ae1f23689166e887d9c092c053370f2cde517aec1431dcb9eb55",
    "ddpm": "cc37b2e707e924e692e73be0f1b55e0f2696b3aa64503153e2d0e974fc3a0f29 7f5c31a0ecdaa37c3832cfcee7042936f79dceb8ceae0c17efb876ce8ff2763b",
    "euler": "a1863e731dc05294f5efa6dbfe99dd5d027aea9f915e107fce4d571d42923a55 55d41e53cc8bdda2f7c783d408b8523fafff530c4cf509d0e7671d235011393b",
    "dpmpp": "836e4ecab89b26927a4ace210561e5e97b3928ca6abb5f530a01a02f334463a6 91e49c2e3ce4c8889460b0fe665ebda04ec0bde7ec18b5215b6af0894e761af1",
]

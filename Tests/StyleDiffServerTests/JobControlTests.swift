// The running generation over HTTP with the tiny fixture model: /progress (fraction, steps,
// live preview), /interrupt, a client that goes away, the deadline, and `stylediff serve` as a
// process stopped by SIGTERM mid-job (the running request is answered, the queued one refused,
// exit 0).

import Foundation
import Hummingbird
import HummingbirdTesting
import PNGIO
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

extension ServerTests {
    @Suite(.serialized) struct JobControlTests {
        static let runner = try! Runner(modelDirectory: TestPaths.fixtureModel)

        /// A request body that runs long enough to be watched (the fixture takes ~50 ms a step: 45 s; 1000 would step past the fixture schedule).
        static let long = #"{"prompt": "folder icon", "steps": 900, "seed": 1}"#

        /// Polls /progress until `condition` holds (at most `seconds`); the last answer.
        func waitForProgress(_ port: Int, seconds: Double = 120, _ condition: ([String: Any]) -> Bool) async throws -> [String: Any] {
            let start = Date()
            while true {
                let progress = try await send(port, "/sdapi/v1/progress", method: .get).json
                if condition(progress) || Date().timeIntervalSince(start) > seconds { return progress }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
        }

        static func step(_ progress: [String: Any]) -> Int { (progress["state"] as? [String: Any])?["sampling_step"] as? Int ?? 0 }
        static func jobCount(_ progress: [String: Any]) -> Int { (progress["state"] as? [String: Any])?["job_count"] as? Int ?? -1 }

        @Test func progressShowsThePreviewAndInterruptStopsTheJob() async throws {
            try await serverApp(Self.runner).test(.live) { client in
                let port = try #require(client.port)
                let idle = try await send(port, "/sdapi/v1/progress", method: .get).json
                #expect(idle["progress"] as? Double == 0 && idle["current_image"] is NSNull)
                let generation = Task { try await send(port, "/sdapi/v1/txt2img", json: Self.long) }
                let running = try await waitForProgress(port) { Self.step($0) >= 2 }
                let fraction = try #require(running["progress"] as? Double)
                #expect(fraction > 0 && fraction < 1 && Self.jobCount(running) == 1)
                #expect((running["state"] as? [String: Any])?["sampling_steps"] as? Int == 900)
                let preview = try #require((running["current_image"] as? String).flatMap { Data(base64Encoded: $0) })
                let image = try PNGCodec.decode(Array(preview)).image
                #expect(image.width == 64 && image.height == 64, "a 64 px image is previewed by the VAE decode")
                let skipped = try await send(port, "/sdapi/v1/progress?skip_current_image=true", method: .get).json
                #expect(skipped["current_image"] is NSNull)

                let interrupt = try await send(port, "/sdapi/v1/interrupt", json: "{}")
                #expect(interrupt.json["interrupted"] as? Int == 1)
                let answer = try await generation.value
                #expect(answer.status == .conflict && answer.text.contains("interrupt"), "\(answer.status) \(answer.text)")
                let after = try await waitForProgress(port, seconds: 20) { Self.jobCount($0) == 0 }
                #expect(Self.jobCount(after) == 0)
                // The next request runs normally.
                #expect(try await send(port, "/sdapi/v1/txt2img", json: #"{"prompt": "x", "steps": 2}"#).status == .ok)
            }
        }

        @Test func aClientThatLeavesStopsItsJob() async throws {
            try await serverApp(Self.runner).test(.live) { client in
                let port = try #require(client.port)
                let leaving = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(300)))
                leaving.connect()
                try await leaving.executeAndDontWaitForResponse(
                    TestClient.Request("/sdapi/v1/txt2img", method: .post, authority: "127.0.0.1", body: ByteBuffer(string: Self.long)))
                let running = try await waitForProgress(port) { Self.step($0) >= 2 }
                #expect(Self.jobCount(running) == 1)
                try await leaving.shutdown()
                // The job stops within a few steps instead of running its 900.
                let after = try await waitForProgress(port, seconds: 20) { Self.jobCount($0) == 0 }
                #expect(Self.jobCount(after) == 0, "the job still runs after its client left: \(after)")
                let last = try await send(port, "/sdapi/v1/txt2img", json: #"{"prompt": "x", "steps": 2}"#)
                #expect(last.status == .ok)
            }
        }

        @Test func theDeadlineCoversWaitingAndRunning() async throws {
            try await serverApp(Self.runner, { $0.deadline = 1.5 }).test(.live) { client in
                let port = try #require(client.port)
                let start = Date()
                async let first = send(port, "/sdapi/v1/txt2img", json: Self.long)
                try await Task.sleep(nanoseconds: 300_000_000)
                async let second = send(port, "/sdapi/v1/txt2img", json: Self.long)  // waits behind the first
                let (a, b) = try await (first, second)
                for answer in [a, b] {
                    #expect(answer.status == .serviceUnavailable && answer.text.contains("deadline"), "\(answer.status) \(answer.text)")
                    #expect(answer.headers[.retryAfter] != nil)
                }
                #expect(Date().timeIntervalSince(start) < 40, "answered at the deadline, not after 900 steps")
            }
        }

        @Test func sigtermFinishesTheRunningJobRefusesTheQueuedOneAndExitsZero() async throws {
            let dir = try makeTemporaryFolder()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let binary = TestPaths.packageRoot + "/.build/debug/stylediff"
            try #require(FileManager.default.isExecutableFile(atPath: binary), "run `swift build` before `swift test`")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = ["serve", "--model", TestPaths.fixtureModel, "--port", "0", "--uploads", dir, "--log-level", "warning"]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.interrupt(); kill(process.processIdentifier, SIGKILL) } }
            // "stylediff: serving DIR on http://127.0.0.1:PORT"
            var printed = ""
            while !printed.contains("\n") {
                let data = out.fileHandleForReading.availableData
                if data.isEmpty { break }
                printed += String(decoding: data, as: UTF8.self)
            }
            let port = try #require(printed.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }, "\(printed)")
            let running = Task { try await send(port, "/sdapi/v1/txt2img", json: #"{"prompt": "folder icon", "steps": 120, "seed": 2}"#) }
            _ = try await waitForProgress(port) { Self.step($0) >= 2 }
            let queued = Task { try await send(port, "/sdapi/v1/txt2img", json: #"{"prompt": "queued", "steps": 3}"#) }
            let both = try await waitForProgress(port) { Self.jobCount($0) == 2 }
            #expect(Self.jobCount(both) == 2)
            kill(process.processIdentifier, SIGTERM)
            let (first, second) = try await (running.value, queued.value)
            #expect(first.status == .ok && (first.json["images"] as? [String])?.count == 1, "the running job is finished and answered")
            #expect(second.status == .serviceUnavailable && second.text.contains("shutting down"), "\(second.status) \(second.text)")
            process.waitUntilExit()
            #expect(process.terminationReason == .exit && process.terminationStatus == 0)
        }
    }

    @Suite(.serialized) struct WorkersAndOptionsTests {
        static let runner = try! Runner(modelDirectory: TestPaths.fixtureModel)

        /// With --workers 2 and no queue, two requests run at once (with one worker the second
        /// would be 429), and each gives the bytes it gives alone.
        @Test func twoWorkersRunTwoJobsAtOnceWithTheSameBytes() async throws {
            let bodies = [#"{"prompt": "folder icon", "steps": 30, "seed": 1}"#, #"{"prompt": "heart", "style": "tango", "steps": 30, "seed": 2}"#]
            let expected = try await serverApp(Self.runner, { ($0.workers, $0.queueLimit) = (1, 0) }).test(.live) { client in
                let port = try #require(client.port)
                var alone: [String] = []
                for body in bodies {
                    alone.append(try #require((try await send(port, "/sdapi/v1/txt2img", json: body).json["images"] as? [String])?.first))
                }
                return alone
            }
            try await serverApp(Self.runner, { ($0.workers, $0.queueLimit) = (2, 0) }).test(.live) { client in
                let port = try #require(client.port)
                async let a = send(port, "/sdapi/v1/txt2img", json: bodies[0])
                async let b = send(port, "/sdapi/v1/txt2img", json: bodies[1])
                let answers = try await [a, b]
                #expect(answers.map(\.status) == [.ok, .ok])
                #expect(answers.map { ($0.json["images"] as? [String])?.first ?? "" } == expected, "concurrent jobs give their own bytes")
            }
        }

        @Test func optionsAndStylesAreA1111Shaped() async throws {
            try await serverApp(Self.runner).test(.live) { client in
                let port = try #require(client.port)
                let options = try await send(port, "/sdapi/v1/options", method: .get).json
                #expect(options["sd_checkpoint_hash"] as? String == Self.runner.modelHash && options["samples_format"] as? String == "png")
                let restate = try await send(port, "/sdapi/v1/options", json: #"{"samples_format": "png", "CLIP_stop_at_last_layers": 1}"#)
                #expect(restate.status == .ok)
                for (json, detail) in [(#"{"samples_format": "jpg"}"#, "cannot be changed"), (#"{"sd_vae": "x"}"#, "not supported")] {
                    let answer = try await send(port, "/sdapi/v1/options", json: json)
                    #expect(answer.status == .unprocessableContent && answer.text.contains(detail), "\(json): \(answer.text)")
                }
                let styles = try JSONSerialization.jsonObject(with: Data(buffer: try await send(port, "/sdapi/v1/prompt-styles", method: .get).body)) as? [[String: Any]]
                #expect(styles?.compactMap { $0["name"] as? String } == Self.runner.styles)
                #expect(styles?.first?["prompt"] as? String == "{prompt}, \(Self.runner.styles[0]) style")
            }
        }
    }
}

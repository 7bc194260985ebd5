// `stylediff serve`: the model loaded once behind HTTP (Hummingbird 2): the
// AUTOMATIC1111-compatible POST /sdapi/v1/txt2img, GET /sdapi/v1/samplers and
// /sdapi/v1/sd-models, and the OpenAI Images API's POST /v1/images/generations. Every generation goes the CLI's way (Runner.record, prepare, render), so
// the same parameters and seed give the same PNG bytes as `stylediff generate`. With an API key
// every route needs `Authorization: Bearer KEY` (401 otherwise).

import ArgumentParser
import FileAccess
import Foundation
import Hummingbird
import Pipeline
import StyleDiffCommands

public enum StyleDiffServer {
    /// Largest request body read (base64 images included).
    static let maximumBody = 32 << 20

    /// The routes over a loaded model.
    public static func router(runner: Runner, apiKey: String?, queueLimit: Int) -> Router<BasicRequestContext> {
        let router = Router()
        let queue = GenerationQueue(limit: queueLimit)
        if let apiKey { router.add(middleware: APIKeyMiddleware(key: apiKey)) }
        router.get("/sdapi/v1/samplers") { _, _ -> Response in
            json(A1111Request.samplerNames.map { ["name": $0.name, "aliases": [$0.kind.rawValue], "options": [String: String]()] as [String: Any] })
        }
        router.get("/sdapi/v1/sd-models") { _, _ -> Response in
            let r = runner
            return json([["title": FileAccess.lastComponent(of: r.pipeline.directory), "model_name": FileAccess.lastComponent(of: r.pipeline.directory),
                          "hash": String(r.modelHash.prefix(10)), "sha256": r.modelHash, "filename": r.pipeline.directory,
                          "config": NSNull()] as [String: Any]])
        }
        /// `count` images for `settings` (seeds seed, seed+1, ...; random when unset), the CLI's way.
        @Sendable func generate(_ settings: GenerationSettings, count: Int) async throws -> [(record: GenerationRecord, png: [UInt8])] {
            let r = runner
            let firstSeed = settings.seed ?? UInt64(UInt32.random(in: 0...UInt32.max))
            var prepared: [(GenerationRecord, GenerationRequest)] = []
            for i in 0..<count {
                let record = try r.record(settings, seed: firstSeed &+ UInt64(i))
                prepared.append((record, try r.prepare(record, invalid: .usage)))
            }
            let jobs = prepared
            let pngs = try await queue.run { try jobs.map { try r.render($0.0, $0.1) } }
            return zip(prepared, pngs).map { ($0.0.0, $0.1) }
        }
        router.post("/sdapi/v1/txt2img") { request, _ -> Response in
            await answering {
                let parsed = try A1111Request(json: Array(buffer: try await request.body.collect(upTo: maximumBody)))
                let images = try await generate(parsed.settings, count: parsed.count)
                let first = images[0].record
                let info: [String: Any] = [
                    "prompt": first.prompt, "negative_prompt": first.negativePrompt, "seed": first.seed,
                    "all_seeds": images.map(\.record.seed), "steps": first.steps, "cfg_scale": first.guidanceScale,
                    "sampler_name": first.scheduler.rawValue, "width": first.width, "height": first.height,
                    "sd_model_hash": String(runner.modelHash.prefix(10)), "infotexts": images.map(\.record.parametersText),
                ]
                let infoText = String(decoding: try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]), as: UTF8.self)
                let parameters = try JSONSerialization.jsonObject(with: JSONEncoder().encode(parsed.settings))
                return json(["images": images.map { Data($0.png).base64EncodedString() }, "parameters": parameters, "info": infoText])
            }
        }
        router.post("/v1/images/generations") { request, _ -> Response in
            await answering {
                let parsed = try OpenAIImageRequest(json: Array(buffer: try await request.body.collect(upTo: maximumBody)))
                let images = try await generate(parsed.settings, count: parsed.count)
                return json(["created": Int(Date().timeIntervalSince1970),
                             "data": images.map { ["b64_json": Data($0.png).base64EncodedString(), "revised_prompt": $0.record.prompt] }])
            }
        }
        return router
    }

    /// Runs a handler, answering its errors: APIError with its status, CLI errors as 422 (bad
    /// settings or inputs), 404 (missing input) or 500, a body over the limit 413.
    static func answering(_ handler: () async throws -> Response) async -> Response {
        do {
            return try await handler()
        } catch let e as APIError {
            return failure(e.status, e.message)
        } catch let e as CLIError {
            return failure(e.kind == .usage || e.kind == .dataError ? 422 : e.kind == .noInput ? 404 : 500, e.message)
        } catch let e as any HTTPResponseError {
            return failure(Int(e.status.code), e.status == .contentTooLarge ? "the body is over \(maximumBody) bytes" : "\(e)")
        } catch {
            return failure(500, "\(error)")
        }
    }

    static func json(_ object: Any, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func failure(_ status: Int, _ message: String) -> Response {
        let known: [HTTPResponse.Status] = [.badRequest, .unauthorized, .notFound, .contentTooLarge, .unprocessableContent,
                                            .tooManyRequests, .internalServerError]
        let s = known.first { $0.code == status } ?? HTTPResponse.Status(code: status)
        return json(["error": s.reasonPhrase, "detail": message], status: s)
    }
}

/// `Authorization: Bearer KEY` on every route, else 401.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.headers[.authorization] == "Bearer " + key else {
            return StyleDiffServer.failure(401, "missing or wrong API key (Authorization: Bearer KEY)")
        }
        return try await next(request, context)
    }
}

public struct Serve: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Serve the loaded model over HTTP (AUTOMATIC1111-compatible txt2img; more APIs to come).")

    @OptionGroup public var common: ModelOptions

    @Option(help: "Address to bind (loopback by default; 0.0.0.0 exposes the server).")
    public var host = "127.0.0.1"

    @Option(help: "Port (0: any free port, printed on start).")
    public var port = 7860

    @Option(help: "Require `Authorization: Bearer KEY` on every route.")
    public var apiKey: String?

    @Option(help: "Requests that may wait while one runs; more are answered 429.")
    public var queue = 8

    public init() {}

    public func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...10_000).contains(queue) else { throw ValidationError("--queue must be 0...10000") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    public func run() async throws {
        common.applyThreads()
        let runner: Runner
        do {
            runner = try Runner(modelDirectory: common.directory, ipAdapter: common.ipAdapter)
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("stylediff: error: \(e.message)\n".utf8))
            throw ExitCode(e.kind.rawValue)
        }
        let directory = runner.pipeline.directory, hostName = host
        let app = Application(
            router: StyleDiffServer.router(runner: runner, apiKey: apiKey, queueLimit: queue),
            configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                FileHandle.standardOutput.write(Data("stylediff: serving \(directory) on http://\(hostName):\(port)\n".utf8))
            })
        try await app.runService()
    }
}

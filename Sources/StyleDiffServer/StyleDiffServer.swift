// `stylediff serve`'s routes over one loaded model (Hummingbird 2): the AUTOMATIC1111-compatible
// /sdapi/v1 API (txt2img, img2img, samplers, sd-models, prompt-styles, options, progress,
// interrupt), the OpenAI Images API (generations, edits), the browser page at / and the OpenAPI
// document at /openapi.json. Every generation goes the CLI's way (Runner.record, prepare,
// render), so the same parameters and seed give the same PNG bytes as `stylediff generate`.
// With an API key every route but the page's static files needs `Authorization: Bearer KEY`.

import FileAccess
import Foundation
import Hummingbird
import Logging
import PNGIO
import Pipeline
import StyleDiffCommands
import Tensors

public final class StyleDiffServer: Sendable {
    /// Largest request body read (base64 images included).
    static let maximumBody = 32 << 20

    public struct Options: Sendable {
        public var apiKey: String?
        /// Requests that may wait besides the running ones.
        public var queueLimit = 8
        /// Generations run at once.
        public var workers = 1
        /// Seconds a request may take, waiting included.
        public var deadline: TimeInterval = 600
        /// Where images sent over HTTP are kept (UploadStore).
        public var uploads = UploadStore.defaultDirectory

        public init() {}
    }

    let runner: Runner
    let options: Options
    let queue: GenerationQueue
    let uploads: UploadStore
    private let preview = PreviewCache()

    public init(runner: Runner, options: Options) throws {
        self.runner = runner
        self.options = options
        queue = GenerationQueue(limit: options.queueLimit, workers: options.workers)
        uploads = try UploadStore(directory: options.uploads)
    }

    /// Refuses waiting and new generations; running ones finish (graceful shutdown).
    public func shutDown() async { await queue.shutDown() }

    /// The routes.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestLogMiddleware())
        if let key = options.apiKey { router.add(middleware: APIKeyMiddleware(key: key, open: Set(WebPage.files.keys))) }
        for (path, file) in WebPage.files {
            router.get(RouterPath(path)) { _, _ -> Response in
                Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"],
                         body: .init(byteBuffer: ByteBuffer(string: file.text)))
            }
        }
        router.get("/openapi.json") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        router.get("/sdapi/v1/samplers") { _, _ -> Response in
            Self.json(A1111Request.samplerNames.map { ["name": $0.name, "aliases": [$0.kind.rawValue], "options": [String: String]()] as [String: Any] })
        }
        router.get("/sdapi/v1/sd-models") { [runner] _, _ -> Response in
            let name = FileAccess.lastComponent(of: runner.pipeline.directory)
            return Self.json([["title": name, "model_name": name, "hash": String(runner.modelHash.prefix(10)), "sha256": runner.modelHash,
                               "filename": runner.pipeline.directory, "config": NSNull()] as [String: Any]])
        }
        router.get("/sdapi/v1/prompt-styles") { [runner] _, _ -> Response in
            Self.json(runner.styles.map { ["name": $0, "prompt": "{prompt}, \($0) style", "negative_prompt": ""] })
        }
        router.get("/sdapi/v1/options") { [self] _, _ -> Response in Self.json(currentOptions) }
        router.post("/sdapi/v1/options") { [self] request, _ -> Response in
            await Self.answering {
                let fields = try JSONFields(Array(buffer: try await request.body.collect(upTo: Self.maximumBody)))
                let current = currentOptions
                for key in fields.object.keys.sorted() {
                    guard let value = current[key] else { throw APIError(status: 422, "option '\(key)' is not supported by stylediff") }
                    guard A1111Request.same(fields.object[key] ?? NSNull(), value) else {
                        throw APIError(status: 422, "option '\(key)' cannot be changed while serving (restart with other --model/settings)")
                    }
                }
                return Self.json(NSNull())
            }
        }
        router.get("/sdapi/v1/progress") { [self] request, _ -> Response in
            await Self.answering {
                let skip = request.uri.queryParameters.get("skip_current_image").map { ["true", "1"].contains($0.lowercased()) } ?? false
                return Self.json(await progress(includeImage: !skip))
            }
        }
        router.post("/sdapi/v1/interrupt") { [queue] _, _ -> Response in
            Self.json(["interrupted": await queue.interruptRunning()])
        }
        router.post("/sdapi/v1/txt2img") { [self] request, _ -> Response in
            await generating(request) { try A1111Request(json: $0, uploads: self.uploads) } answer: { try self.a1111Answer($0, $1) }
        }
        router.post("/sdapi/v1/img2img") { [self] request, _ -> Response in
            await generating(request) { try A1111Request(json: $0, img2img: true, uploads: self.uploads) } answer: { try self.a1111Answer($0, $1) }
        }
        router.post("/v1/images/generations") { [self] request, _ -> Response in
            await generating(request) { try OpenAIImageRequest(json: $0) } answer: { Self.openAIAnswer($1) }
        }
        router.post("/v1/images/edits") { [self] request, _ -> Response in
            let contentType = request.headers[.contentType]
            return await generating(request) {
                try OpenAIImageRequest(form: MultipartForm(body: $0, contentType: contentType), uploads: self.uploads)
            } answer: { Self.openAIAnswer($1) }
        }
        return router
    }

    typealias Image = (record: GenerationRecord, png: [UInt8])

    /// A generation route: reads and parses the body, runs the images through the queue and
    /// answers. The job stops if the client's connection closes meanwhile (Hummingbird watches
    /// the connection only if it is not kept alive, so the answer says `Connection: close`).
    func generating(_ request: Request, parse: @escaping ([UInt8]) throws -> any ImageRequest,
                    answer: @escaping (GenerationSettings, [Image]) throws -> Response) async -> Response {
        let job = GenerationJob(deadline: options.deadline)
        let queue = self.queue
        var response = await Self.answering {
            try await request.body.consumeWithInboundCloseHandler { body in
                let parsed = try parse(Array(buffer: try await body.collect(upTo: Self.maximumBody)))
                job.images = parsed.count
                return try answer(parsed.settings, try await self.generate(parsed.settings, count: parsed.count, job: job))
            } onInboundClosed: {
                job.stop(.clientGone)
                Task { await queue.withdraw(job) }
            }
        }
        response.headers[.connection] = "close"
        return response
    }

    /// `count` images for `settings` (seeds seed, seed+1, ...; random when unset), the CLI's way.
    func generate(_ settings: GenerationSettings, count: Int, job: GenerationJob) async throws -> [Image] {
        let runner = self.runner, queue = self.queue
        let firstSeed = settings.seed ?? UInt64(UInt32.random(in: 0...UInt32.max))
        var prepared: [(GenerationRecord, GenerationRequest)] = []
        for i in 0..<count {
            let record = try runner.record(settings, seed: firstSeed &+ UInt64(i))
            prepared.append((record, try runner.prepare(record, invalid: .usage)))
        }
        let jobs = prepared
        // A request still queued at its deadline leaves the queue (one whose client leaves is
        // withdrawn by `generating`; a running one sees either at its next step).
        let deadline = Task {
            try await Task.sleep(nanoseconds: UInt64(max(0, job.deadline.timeIntervalSinceNow) * 1e9))
            job.stop(.deadline)
            await queue.withdraw(job)
        }
        defer { deadline.cancel() }
        do {
            let pngs = try await queue.run(job) {
                try jobs.enumerated().map { i, item in
                    job.begin(image: i)
                    if let stop = job.stopReason { throw stop.error }
                    return try runner.render(item.0, item.1, observe: job.observe)
                }
            }
            return zip(prepared, pngs).map { ($0.0.0, $0.1) }
        } catch {
            if let stop = job.stopReason { throw stop.error }
            throw error
        }
    }

    func a1111Answer(_ settings: GenerationSettings, _ images: [Image]) throws -> Response {
        let first = images[0].record
        var info: [String: Any] = [
            "prompt": first.prompt, "negative_prompt": first.negativePrompt, "seed": first.seed,
            "all_seeds": images.map(\.record.seed), "all_prompts": images.map(\.record.prompt), "steps": first.steps,
            "cfg_scale": first.guidanceScale, "sampler_name": first.scheduler.rawValue, "width": first.width, "height": first.height,
            "sd_model_name": FileAccess.lastComponent(of: runner.pipeline.directory),
            "sd_model_hash": String(runner.modelHash.prefix(10)), "infotexts": images.map(\.record.parametersText),
        ]
        if let strength = first.strength { info["denoising_strength"] = strength }
        let infoText = String(decoding: try JSONSerialization.data(withJSONObject: info, options: [.sortedKeys]), as: UTF8.self)
        let parameters = try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings))
        return Self.json(["images": images.map { Data($0.png).base64EncodedString() }, "parameters": parameters, "info": infoText])
    }

    static func openAIAnswer(_ images: [Image]) -> Response {
        json(["created": Int(Date().timeIntervalSince1970),
              "data": images.map { ["b64_json": Data($0.png).base64EncodedString(), "revised_prompt": $0.record.prompt] }])
    }

    /// GET /sdapi/v1/options: what A1111 clients read; POST may only restate these values.
    var currentOptions: [String: Any] {
        ["sd_model_checkpoint": FileAccess.lastComponent(of: runner.pipeline.directory), "sd_checkpoint_hash": runner.modelHash,
         "CLIP_stop_at_last_layers": 1, "samples_format": "png", "live_previews_enable": true, "show_progress_every_n_steps": 1,
         "show_progress_type": "Approx cheap", "live_preview_content": "Prompt",
         // stylediff's defaults for this model (read-only; the page starts from them).
         "stylediff_guidance": runner.samplingDefaults.guidance(nil), "stylediff_steps": GenerationSettings.Defaults.steps,
         "stylediff_style_strength": runner.samplingDefaults.styleStrength(nil, hasStyleImages: true),
         "stylediff_width": runner.pipeline.imageSize, "stylediff_height": runner.pipeline.imageSize]
    }

    /// GET /sdapi/v1/progress: the oldest running job (A1111's shape).
    func progress(includeImage: Bool) async -> [String: Any] {
        let (running, waiting) = await queue.state
        guard let job = running.first else {
            return ["progress": 0, "eta_relative": 0, "current_image": NSNull(), "textinfo": NSNull(),
                    "state": ["skipped": false, "interrupted": false, "job": "", "job_count": waiting, "job_timestamp": "0",
                              "job_no": 0, "sampling_step": 0, "sampling_steps": 0] as [String: Any]]
        }
        let s = job.snapshot
        let elapsed = s.running ?? 0
        let eta = s.fraction > 0 ? elapsed / s.fraction - elapsed : 0
        var image: Any = NSNull()
        if includeImage, let latents = s.latents, let png = try? preview.png(latents, pipeline: runner.pipeline) {
            image = Data(png).base64EncodedString()
        }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        return ["progress": s.fraction, "eta_relative": eta, "current_image": image, "textinfo": NSNull(),
                "state": ["skipped": false, "interrupted": job.stopReason == .interrupted, "job": job.id,
                          "job_count": running.count + waiting, "job_timestamp": formatter.string(from: job.created),
                          "job_no": s.image, "sampling_step": s.step, "sampling_steps": s.total] as [String: Any]]
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
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func failure(_ status: Int, _ message: String) -> Response {
        let known: [HTTPResponse.Status] = [.badRequest, .unauthorized, .notFound, .conflict, .contentTooLarge, .unprocessableContent,
                                            .tooManyRequests, .internalServerError, .serviceUnavailable]
        let s = known.first { $0.code == status } ?? HTTPResponse.Status(code: status, reasonPhrase: status == 499 ? "Client Closed Request" : "Error")
        var response = json(["error": s.reasonPhrase, "detail": message], status: s)
        if status == 429 || status == 503 { response.headers[.retryAfter] = "5" }
        return response
    }
}

/// The latent preview map, fitted on first use (one VAE encode) and kept.
final class PreviewCache: @unchecked Sendable {
    private let lock = NSLock()
    private var map: LatentPreview?

    func png(_ latents: Tensor, pipeline: StyleDiffusionPipeline) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if map == nil { map = try LatentPreview(pipeline: pipeline) }
        guard let map else { return [] }
        return try PNGCodec.encode(map.preview(latents), texts: [])
    }
}

/// `Authorization: Bearer KEY` on every route but `open` (the page's static files), else 401.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String
    let open: Set<String>
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard open.contains(request.uri.path) || request.headers[.authorization] == "Bearer " + key else {
            return StyleDiffServer.failure(401, "missing or wrong API key (Authorization: Bearer KEY)")
        }
        return try await next(request, context)
    }
}

/// One structured log line per request (swift-log, the request's logger with its id): method,
/// path, status and milliseconds, at info (notice for 5xx).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let response = try await next(request, context)
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
        context.logger.log(level: response.status.code >= 500 ? .notice : .info, "request", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "ms": "\(String(format: "%.1f", ms))",
        ])
        return response
    }
}

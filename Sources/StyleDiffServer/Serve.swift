// `stylediff serve`: loads the model once and serves StyleDiffServer's routes until SIGTERM or
// SIGINT, which shut down gracefully: the listening socket closes, waiting requests are refused
// (503), the running generation finishes and is answered, then the process exits 0.

import ArgumentParser
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import StyleDiffCommands

public struct Serve: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Serve the loaded model over HTTP: AUTOMATIC1111 and OpenAI Images APIs, and a page at /.",
        discussion: """
            Routes: POST /sdapi/v1/txt2img, /sdapi/v1/img2img, /sdapi/v1/interrupt, /sdapi/v1/options; GET /sdapi/v1/samplers, \
            /sdapi/v1/sd-models, /sdapi/v1/prompt-styles, /sdapi/v1/options, /sdapi/v1/progress; POST /v1/images/generations, \
            /v1/images/edits; GET / (the page) and /openapi.json. SIGTERM finishes the running generation and exits 0.
            """)

    @OptionGroup public var common: ModelOptions

    @Option(help: "Address to bind (loopback by default; 0.0.0.0 exposes the server).")
    public var host = "127.0.0.1"

    @Option(help: "Port (0: any free port, printed on start).")
    public var port = 7860

    @Option(help: "Require `Authorization: Bearer KEY` on every route but the page's files.")
    public var apiKey: String?

    @Option(help: "Requests that may wait while others run; more are answered 429 with Retry-After.")
    public var queue = 8

    @Option(help: "Generations run at once (each uses --threads threads).")
    public var workers = 1

    @Option(help: "Seconds a request may take, waiting included; past it the answer is 503.")
    public var deadline = 600.0

    @Option(help: "Folder for images sent over HTTP, named by their SHA-256 (default ~/.cache/stylediff/uploads).")
    public var uploads: String?

    @Option(help: "Log level of the request logs (trace, debug, info, notice, warning, error, critical).")
    public var logLevel = "info"

    public init() {}

    public func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard (0...10_000).contains(queue) else { throw ValidationError("--queue must be 0...10000") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        guard deadline.isFinite, deadline > 0, deadline <= 86_400 else { throw ValidationError("--deadline must be 0 < s <= 86400") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    public func run() async throws {
        common.applyThreads()
        let server: StyleDiffServer
        do {
            let runner = try Runner(common)
            var options = StyleDiffServer.Options()
            (options.apiKey, options.queueLimit, options.workers, options.deadline) = (apiKey, queue, workers, deadline)
            if let uploads { options.uploads = uploads }
            server = try StyleDiffServer(runner: runner, options: options)
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("stylediff: error: \(e.message)\n".utf8))
            throw ExitCode(e.kind.rawValue)
        }
        var logger = Logger(label: "stylediff.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let directory = server.runner.pipeline.directory, hostName = host
        let app = Application(
            router: server.router(),
            configuration: .init(address: .hostname(host, port: port), serverName: "stylediff"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                FileHandle.standardOutput.write(Data("stylediff: serving \(directory) on http://\(hostName):\(port)\n".utf8))
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: QueueDrain(server: server), successTerminationBehavior: .ignore)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// On graceful shutdown, refuses the queued requests so that only the running ones delay the exit.
struct QueueDrain: Service {
    let server: StyleDiffServer
    func run() async throws {
        try? await gracefulShutdown()
        await server.shutDown()
    }
}

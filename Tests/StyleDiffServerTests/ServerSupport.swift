// Helpers of the server tests: an app over a fixture runner with an upload folder of its own,
// JSON bodies and answers, and base64 fixtures.

import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

/// The server's app over `runner` on a free loopback port, options set by `configure`.
func serverApp(_ runner: Runner, _ configure: (inout StyleDiffServer.Options) -> Void = { _ in }) throws -> some ApplicationProtocol {
    var options = StyleDiffServer.Options()
    options.uploads = NSTemporaryDirectory() + "serve-uploads-\(ProcessInfo.processInfo.processIdentifier)"
    configure(&options)
    let server = try StyleDiffServer(runner: runner, options: options)
    return Application(router: server.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)))
}

func jsonObject(_ buffer: ByteBuffer) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
}

func base64File(_ path: String) throws -> String {
    try Data(contentsOf: URL(fileURLWithPath: path)).base64EncodedString()
}

func makeTemporaryFolder() throws -> String {
    let dir = NSTemporaryDirectory() + "serve-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

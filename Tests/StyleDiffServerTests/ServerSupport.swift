// Helpers of the server tests: an app over a fixture runner with an upload folder of its own,
// JSON bodies and answers, and base64 fixtures.

import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TestSupport
@testable import StyleDiffCommands
@testable import StyleDiffServer

/// The parent of every server suite: they run one after another (each starts generations of its
/// own, and together they would starve each other on 2 cores).
@Suite(.serialized) struct ServerTests {}

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

struct Answer {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: ByteBuffer
    var json: [String: Any] { jsonObject(body) }
    var text: String { String(buffer: body) }
}

/// One request on a connection of its own (generation answers close theirs).
func send(_ port: Int, _ path: String, method: HTTPRequest.Method = .post, json: String? = nil, body: ByteBuffer? = nil,
          headers: HTTPFields = [:]) async throws -> Answer {
    // Generous: the whole suite runs in parallel on 2 cores, and a generation may wait its turn.
    let client = TestClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(300)))
    client.connect()
    let request = TestClient.Request(path, method: method, authority: "127.0.0.1", headers: headers,
                                     body: body ?? json.map { ByteBuffer(string: $0) })
    do {
        let response = try await client.execute(request)
        try? await client.shutdown()
        return Answer(status: response.head.status, headers: response.head.headerFields, body: response.body ?? ByteBuffer())
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// A multipart/form-data body of text fields and files (name, filename, bytes).
func multipartBody(fields: [(String, String)], files: [(String, String, Data)], boundary: String = "stylediff-test-boundary") -> (ByteBuffer, HTTPFields) {
    var data = Data()
    for (name, value) in fields {
        data.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
    }
    for (name, filename, bytes) in files {
        data.append(Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"; filename=\"\(filename)\"\r\nContent-Type: image/png\r\n\r\n".utf8))
        data.append(bytes)
        data.append(Data("\r\n".utf8))
    }
    data.append(Data("--\(boundary)--\r\n".utf8))
    return (ByteBuffer(bytes: data), [.contentType: "multipart/form-data; boundary=\(boundary)"])
}

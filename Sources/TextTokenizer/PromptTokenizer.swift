// The default model's prompt encoding (tokenizer/tokenizer_config.json): SentencePiece ids,
// cut to max_length - 1, the eos id appended, padded with pad_id to max_length. An empty prompt
// is just the eos id and padding (the unconditional prompt).

import FileAccess
import Foundation

public struct PromptTokenizer: Sendable {
    public let model: SentencePieceTokenizer
    public let maxLength: Int
    public let padID: Int32
    public let endID: Int32

    struct Configuration: Decodable {
        var max_length: Int
        var pad_id: Int32
        var eos_id: Int32
    }

    /// Longest prompt encoding accepted (the text encoder must also have that many positions).
    public static let maximumLength = 4096

    /// Loads tokenizer.model and tokenizer_config.json from a folder.
    public init(directory: String) throws {
        let configPath = directory + "/tokenizer_config.json"
        let data: Data
        do {
            data = Data(try FileAccess.read(configPath, limit: 1 << 20))
        } catch {
            throw TokenizerError.cannotLoad(file: configPath, reason: "\(error)")
        }
        let config: Configuration
        do {
            config = try JSONDecoder().decode(Configuration.self, from: data)
        } catch {
            throw TokenizerError.cannotLoad(file: configPath, reason: "needs integer max_length, pad_id and eos_id")
        }
        guard (2...Self.maximumLength).contains(config.max_length) else {
            throw TokenizerError.cannotLoad(file: configPath, reason: "max_length \(config.max_length) must be 2...\(Self.maximumLength)")
        }
        model = try SentencePieceTokenizer(path: directory + "/tokenizer.model")
        maxLength = config.max_length
        padID = config.pad_id
        endID = config.eos_id
    }

    /// Exactly `maxLength` ids for `prompt`.
    public func ids(_ prompt: String) throws -> [Int32] {
        var ids = prompt.isEmpty ? [] : Array(try model.encode(prompt).prefix(maxLength - 1))
        ids.append(endID)
        return ids + Array(repeating: padID, count: maxLength - ids.count)
    }

    /// Whether the prompt was cut to fit.
    public func isTruncated(_ prompt: String) throws -> Bool {
        try !prompt.isEmpty && model.encode(prompt).count > maxLength - 1
    }
}

// The stylediff command line: generate, convert (img2img), batch, replay, styles, info (one file
// each), and the helpers they share.

import ArgumentParser
import FileAccess
import Foundation
import Pipeline
import Tensors

public struct StyleDiff: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "stylediff",
        abstract: "Text- and image-style-prompted image generation and style conversion on the CPU.",
        discussion: """
            Every output PNG stores its parameters (a "parameters" text chunk and a "stylediff" JSON \
            chunk); `stylediff replay` regenerates the identical file from them. The model comes from \
            --model, else $STYLEDIFF_MODEL, else the package's Weights/default.
            """,
        subcommands: [Generate.self, Convert.self, Batch.self, Replay.self, Styles.self, Info.self])

    public init() {}
}

/// Runs `body`, turning errors into one stderr line and the matching exit code.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        let e = CLIError(error)
        printError(e.message)
        throw ExitCode(e.kind.rawValue)
    }
}

/// Prompt text: the prompt, then ", NAME style" when a style is named.
func composePrompt(_ prompt: String, style: String?) -> String {
    [prompt.trimmingCharacters(in: .whitespaces), style.map { "\($0) style" } ?? ""].filter { !$0.isEmpty }.joined(separator: ", ")
}

/// The inverse of composePrompt: the style a prompt names as "..., NAME style" or "NAME style"
/// (case-insensitive) when NAME is one of `names`; nil otherwise.
func styleNamed(in prompt: String, among names: [String]) -> String? {
    let trimmed = prompt.trimmingCharacters(in: .whitespaces)
    let start = trimmed.lastIndex(of: ",").map { trimmed.index(after: $0) } ?? trimmed.startIndex
    let tail = trimmed[start...].trimmingCharacters(in: .whitespaces).lowercased()
    guard tail.hasSuffix(" style") else { return nil }
    let name = tail.dropLast(" style".count).trimmingCharacters(in: .whitespaces)
    return names.first { $0.lowercased() == name }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// One output of generate, convert or batch in `--json` output.
struct OutputResult: Codable, Equatable {
    var file: String
    /// "written" or (batch, resuming) "skipped".
    var status: String
    var seed: UInt64?
    /// Wall time of the generation, to the millisecond.
    var seconds: Double?

    init(file: String, status: String = "written", seed: UInt64? = nil, seconds: Double? = nil) {
        self.file = file
        self.status = status
        self.seed = seed
        self.seconds = seconds.map { ($0 * 1000).rounded() / 1000 }
    }
}

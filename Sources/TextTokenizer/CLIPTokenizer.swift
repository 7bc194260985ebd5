// Port of transformers' CLIPTokenizer (models/clip/tokenization_clip.py, the tokenizers-backed
// class of transformers 5 that diffusers' Stable Diffusion pipelines load): byte-level BPE over
// the CLIP vocabulary of a Hugging Face tokenizer folder (vocab.json, merges.txt).
//
//   normalise:     NFC, every run of white space to one space, lower case (per scalar, full
//                  mapping, as the tokenizers Lowercase normaliser; no final-sigma context)
//   special:       "<|startoftext|>", "<|endoftext|>" and the pad token in the raw text are
//                  their own ids (so with SD 2.x's pad "!", every "!" is id 0, as in transformers)
//   pre-tokenise:  CLIP's split pattern 's|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
//                  (white space dropped), each piece's UTF-8 bytes through GPT-2's byte table
//   BPE:           the piece's last symbol carries "</w>"; merges by rank, lowest first
//   ids:           <|startoftext|>, at most max_length - 2 content ids, <|endoftext|>, then the
//                  folder's pad token up to max_length (SD 1.x pads with <|endoftext|>, SD 2.x "!")
//
// ftfy: openai/CLIP's original tokenizer first repairs mojibake and HTML entities with ftfy and
// html.unescape ("cafÃ©" -> "café", "&amp;" -> "&"); transformers' CLIPTokenizer does not, and
// neither does this one, so such text gets the same ids as in diffusers (not as in openai/CLIP).

import FileAccess
import Foundation

public struct CLIPTokenizer: Sendable {
    public static let beginToken = "<|startoftext|>"
    public static let endToken = "<|endoftext|>"

    /// Ids per prompt, padding included (77 for Stable Diffusion).
    public let maxLength: Int
    public let beginID: Int32
    public let endID: Int32
    public let padID: Int32
    let vocabulary: [String: Int32]
    /// One more than the largest id of the vocabulary.
    public let vocabularySize: Int
    let ranks: [Pair: Int]
    /// GPT-2's byte -> printable character table.
    let byteCharacters: [String]
    /// The special tokens matched in raw text: begin, end and pad.
    let specials: [(token: String, id: Int32)]

    struct Pair: Hashable, Sendable {
        var left: String
        var right: String
    }

    /// Largest vocab.json / merges.txt read (CLIP's are 1 MB and 0.5 MB).
    public static let maximumFileBytes = 64 << 20

    /// Loads vocab.json and merges.txt of a tokenizer folder; the pad token comes from
    /// special_tokens_map.json, else tokenizer_config.json, else <|endoftext|>.
    public init(directory: String, maxLength: Int = 77) throws {
        let vocabPath = directory + "/vocab.json", mergesPath = directory + "/merges.txt"
        func read(_ path: String) throws -> [UInt8] {
            do { return try FileAccess.read(path, limit: Self.maximumFileBytes) } catch { throw TokenizerError.cannotLoad(file: path, reason: "\(error)") }
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(try read(vocabPath))) as? [String: Any] else {
            throw TokenizerError.cannotLoad(file: vocabPath, reason: "not a JSON object of token -> id")
        }
        var vocabulary: [String: Int32] = [:]
        for (token, value) in object {
            guard let id = value as? Int, (0..<Int(Int32.max)).contains(id) else {
                throw TokenizerError.cannotLoad(file: vocabPath, reason: "token '\(token)' has no valid id")
            }
            vocabulary[token] = Int32(id)
        }
        var merges: [(String, String)] = []
        for (number, line) in String(decoding: try read(mergesPath), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw TokenizerError.cannotLoad(file: mergesPath, reason: "line \(number + 1) is not two symbols separated by one space")
            }
            merges.append((String(parts[0]), String(parts[1])))
        }
        var pad = Self.endToken
        for name in ["tokenizer_config.json", "special_tokens_map.json"] {
            let path = directory + "/" + name
            guard FileAccess.exists(path) else { continue }
            guard let config = try? JSONSerialization.jsonObject(with: Data(try read(path))) as? [String: Any] else {
                throw TokenizerError.cannotLoad(file: path, reason: "not a JSON object")
            }
            guard let value = config["pad_token"], !(value is NSNull) else { continue }
            if let token = value as? String {
                pad = token
            } else if let token = (value as? [String: Any])?["content"] as? String {
                pad = token
            } else {
                throw TokenizerError.cannotLoad(file: path, reason: "pad_token must be a token or {\"content\": token}")
            }
        }
        try self.init(vocabulary: vocabulary, merges: merges, padToken: pad, maxLength: maxLength, file: vocabPath)
    }

    /// A tokenizer from a vocabulary and ranked merges; `file` names the source in errors.
    public init(vocabulary: [String: Int32], merges: [(String, String)], padToken: String, maxLength: Int = 77,
                file: String = "<memory>") throws {
        guard (3...4096).contains(maxLength) else { throw TokenizerError.cannotLoad(file: file, reason: "max length \(maxLength) must be 3...4096") }
        func id(_ token: String) throws -> Int32 {
            guard let id = vocabulary[token] else { throw TokenizerError.cannotLoad(file: file, reason: "the vocabulary has no '\(token)'") }
            return id
        }
        beginID = try id(Self.beginToken)
        endID = try id(Self.endToken)
        padID = try id(padToken)
        specials = [(Self.beginToken, beginID), (Self.endToken, endID)] + (padToken == Self.beginToken || padToken == Self.endToken ? [] : [(padToken, padID)])
        byteCharacters = Self.byteTable()
        for c in byteCharacters where vocabulary[c] == nil || vocabulary[c + "</w>"] == nil {
            throw TokenizerError.cannotLoad(file: file, reason: "the vocabulary lacks the byte symbol '\(c)' (not a byte-level BPE vocabulary)")
        }
        var ranks: [Pair: Int] = [:]
        for (rank, (a, b)) in merges.enumerated() where ranks[Pair(left: a, right: b)] == nil {
            ranks[Pair(left: a, right: b)] = rank
        }
        self.vocabulary = vocabulary
        vocabularySize = Int(vocabulary.values.max() ?? 0) + 1
        self.ranks = ranks
        self.maxLength = maxLength
    }

    /// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onward.
    static func byteTable() -> [String] {
        var printable = Array(UInt32(33)...126) + Array(UInt32(161)...172) + Array(UInt32(174)...255)
        var table = [String](repeating: "", count: 256)
        for b in printable { table[Int(b)] = String(UnicodeScalar(b).map(Character.init) ?? " ") }
        var next: UInt32 = 256
        for b in 0..<256 where table[b].isEmpty {
            table[b] = String(UnicodeScalar(next).map(Character.init) ?? " ")
            printable.append(UInt32(b))
            next += 1
        }
        return table
    }

    /// Exactly `maxLength` ids: begin, the prompt's ids (truncated), end, padding.
    public func ids(_ text: String) -> [Int32] {
        let content = encode(text).prefix(maxLength - 2)
        let ids = [beginID] + content + [endID]
        return ids + Array(repeating: padID, count: maxLength - ids.count)
    }

    /// The prompt's ids without begin, end or padding.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            // The earliest special token (the longest where several start together).
            var next: (range: Range<Substring.Index>, id: Int32)?
            for special in specials {
                guard let range = rest.range(of: special.token) else { continue }
                if let found = next {
                    let earlier = range.lowerBound < found.range.lowerBound
                    let longer = range.lowerBound == found.range.lowerBound && range.upperBound > found.range.upperBound
                    guard earlier || longer else { continue }
                }
                next = (range, special.id)
            }
            let plain = next.map { rest[..<$0.range.lowerBound] } ?? rest
            for piece in Self.pieces(Self.normalise(String(plain))) { ids += bpe(piece) }
            guard let next else { break }
            ids.append(next.id)
            rest = rest[next.range.upperBound...]
        }
        return ids
    }

    /// NFC, white-space runs to one space, per-scalar full lower-case mapping.
    static func normalise(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var inSpace = false
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            if scalar.properties.isWhitespace {
                if !inSpace { out.append(" ") }
                inSpace = true
                continue
            }
            inSpace = false
            out.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
        }
        return String(out)
    }

    /// CLIP's split pattern over normalised text (white space dropped).
    static func pieces(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        func isLetter(_ s: Unicode.Scalar) -> Bool {
            switch s.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isNumber(_ s: Unicode.Scalar) -> Bool {
            switch s.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        let contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].map { Array($0.unicodeScalars) }
        var pieces: [String] = []
        var i = 0
        func take(_ n: Int) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: scalars[i..<(i + n)])
            pieces.append(String(view))
            i += n
        }
        while i < scalars.count {
            let s = scalars[i]
            if let c = contractions.first(where: { i + $0.count <= scalars.count && Array(scalars[i..<(i + $0.count)]) == $0 }) {
                take(c.count)
            } else if isLetter(s) {
                var j = i + 1
                while j < scalars.count && isLetter(scalars[j]) { j += 1 }
                take(j - i)
            } else if isNumber(s) {
                take(1)
            } else if s.properties.isWhitespace {
                i += 1
            } else {
                var j = i + 1
                while j < scalars.count && !isLetter(scalars[j]) && !isNumber(scalars[j]) && !scalars[j].properties.isWhitespace { j += 1 }
                take(j - i)
            }
        }
        return pieces
    }

    /// Byte-level BPE of one piece: its UTF-8 bytes as byte symbols, "</w>" on the last, then the
    /// lowest-ranked adjacent pair merged everywhere, until no pair has a rank.
    func bpe(_ piece: String) -> [Int32] {
        var symbols = piece.utf8.map { byteCharacters[Int($0)] }
        guard !symbols.isEmpty else { return [] }
        symbols[symbols.count - 1] += "</w>"
        while symbols.count > 1 {
            var best: (rank: Int, pair: Pair)?
            for k in 0..<(symbols.count - 1) {
                let pair = Pair(left: symbols[k], right: symbols[k + 1])
                if let rank = ranks[pair], rank < (best?.rank ?? Int.max) { best = (rank, pair) }
            }
            guard let best else { break }
            var merged: [String] = []
            var k = 0
            while k < symbols.count {
                if k + 1 < symbols.count && symbols[k] == best.pair.left && symbols[k + 1] == best.pair.right {
                    merged.append(best.pair.left + best.pair.right)
                    k += 2
                } else {
                    merged.append(symbols[k])
                    k += 1
                }
            }
            symbols = merged
        }
        return symbols.map { vocabulary[$0] ?? endID }
    }
}

// What a pipeline needs of a tokenizer, whichever kind a model folder has: the default model's
// SentencePiece PromptTokenizer or a Stable Diffusion folder's CLIPTokenizer.

/// Fixed-length id rows for prompts.
public protocol PromptTokenizing: Sendable {
    /// Ids per prompt, padding included.
    var maxLength: Int { get }
    /// Every id is below this (the text encoder's vocab_size must be at least this).
    var vocabularySize: Int { get }
    /// Exactly `maxLength` ids for `prompt` (cut to fit).
    func ids(_ prompt: String) throws -> [Int32]
}

extension PromptTokenizer: PromptTokenizing {
    public var vocabularySize: Int { model.vocabularySize }
}

extension CLIPTokenizer: PromptTokenizing {}

// User-facing errors of the CLI and their exit codes (sysexits.h): every failure prints one
// "stylediff: error: ..." line on stderr and exits with the code of its kind.

import ArgumentParser

public struct CLIError: Error, CustomStringConvertible {
    public enum Kind: Int32 {
        case usage = 64        // EX_USAGE: bad option values (also argument-parser's own errors)
        case dataError = 65    // EX_DATAERR: malformed model, unknown style, bad metadata
        case noInput = 66      // EX_NOINPUT: missing or unreadable input file or model folder
        case software = 70     // EX_SOFTWARE: anything else
        case cannotCreate = 73 // EX_CANTCREAT: output exists (without --overwrite) or cannot be written
        case cancelled = 130   // interrupted
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

// User-facing errors of the CLI and their exit codes (sysexits.h): every failure prints one
// "stylediff: error: ..." line on stderr and exits with the code of its kind. Library errors
// map onto the kinds in one place (CLIError.init(_:)): a file that is missing, not a regular
// file or unreadable is 66; one whose content is malformed (or too large for its kind) is 65.

import ArgumentParser
import FileAccess
import Models
import PNGIO
import Pipeline
import SafeTensors
import Schedulers
import TextTokenizer

public struct CLIError: Error, CustomStringConvertible {
    public enum Kind: Int32, Sendable {
        case usage = 64        // EX_USAGE: bad option values (also argument-parser's own errors)
        case dataError = 65    // EX_DATAERR: malformed model, unknown style, bad metadata or batch lines
        case noInput = 66      // EX_NOINPUT: missing or unreadable input file or model folder
        case software = 70     // EX_SOFTWARE: anything else
        case cannotCreate = 73 // EX_CANTCREAT: output exists (without --overwrite) or cannot be written
        case tryAgain = 75     // EX_TEMPFAIL: batch only, a failure a rerun may not meet (disk full, SIGTERM); it resumes
        case cancelled = 130   // interrupted (SIGINT / SIGTERM)
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// A library error as the CLI reports it: missing or unreadable inputs 66, malformed
    /// models, metadata and numerical failures 65, outputs 73, interruption 130.
    public init(_ error: any Error) {
        switch error {
        case let e as CLIError: self = e
        case let e as FileAccessError:
            switch e {
            case .exists, .cannotWrite: self.init(.cannotCreate, "\(e)")
            case .tooLarge: self.init(.dataError, "\(e)")
            case .missing, .notRegularFile, .unreadable: self.init(.noInput, "\(e)")
            }
        case let e as ModelError:
            switch e {
            case .missingFile, .unreadableFile: self.init(.noInput, "\(e)")
            default: self.init(.dataError, "\(e)")
            }
        case let e as PipelineError:
            switch e {
            case .missingComponent: self.init(.noInput, "\(e)")
            case .cancelled: self.init(.cancelled, "interrupted")
            default: self.init(.dataError, "\(e)")
            }
        case let e as SafetensorsError:
            if case .cannotOpen(_, let reason) = e, reason.contains("No such file") { self.init(.noInput, "\(e)") } else { self.init(.dataError, "\(e)") }
        case let e as TokenizerError:
            if case .cannotLoad(_, let reason) = e, reason.hasSuffix("no such file") { self.init(.noInput, "\(e)") } else { self.init(.dataError, "\(e)") }
        case let e as SchedulerError: self.init(.dataError, "\(e)")
        case let e as PNGError:
            // A file that cannot be read is a missing input; one that reads but is no valid PNG is bad data.
            if case .cannotRead = e { self.init(.noInput, "\(e)") } else { self.init(.dataError, "\(e)") }
        default: self.init(.software, "\(error)")
        }
    }

    public var description: String { message }
}

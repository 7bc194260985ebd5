// SIGINT and SIGTERM: outside the publishing of an output file the process exits at once with
// 130 (nothing has been written then: every output appears by one link or rename); while a file
// is being published the signal is held until the file is complete, then the process exits 130.
// A batch sets SIGTERM's status to 75 (EX_TEMPFAIL): a scheduler that stops a shard can retry it,
// and the rerun resumes.
// So an interrupted run leaves no partial output and no temporary file; one killed outright
// (SIGKILL) may leave a temporary file with the FileAccess marker, which the next batch run in
// that folder removes.

import Foundation

public enum Interruption {
    nonisolated(unsafe) private static var installed = false

    /// Installs the handlers (once per process).
    public static func install() {
        guard !installed else { return }
        installed = true
        // A parent may start us with these signals blocked (Foundation's Process does): unblock
        // them on this thread so they are delivered.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        for s in [SIGINT, SIGTERM] {
            signal(s) { signal in
                pendingSignal = signal
                if publishing != 0 {
                    pending = 1
                } else {
                    reportAndExit()
                }
            }
        }
    }

    /// The exit status for SIGTERM (130 unless a command sets another, e.g. batch's 75).
    public static func setTerminationStatus(_ status: Int32) { terminationStatus = status }

    /// Runs `body` (which publishes a file) with signals held until it returns.
    public static func holdingSignals<T>(_ body: () throws -> T) rethrows -> T {
        publishing = 1
        defer {
            publishing = 0
            if pending != 0 { reportAndExit() }
        }
        return try body()
    }
}

// Trivially initialised globals (no lazy initialisation runs inside the signal handler).
nonisolated(unsafe) private var publishing: sig_atomic_t = 0
nonisolated(unsafe) private var pending: sig_atomic_t = 0
nonisolated(unsafe) private var pendingSignal: Int32 = 0
nonisolated(unsafe) private var terminationStatus: Int32 = 130

/// Async-signal-safe: write(2) of a static message, then _exit(130), or the termination
/// status for SIGTERM.
private func reportAndExit() {
    let message: StaticString = "\nstylediff: error: interrupted\n"
    _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
    _exit(pendingSignal == SIGTERM ? terminationStatus : 130)
}

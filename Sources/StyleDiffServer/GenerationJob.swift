// One HTTP request's generation work as the queue, /progress and /interrupt see it: how far it
// is (image i of n, step s of t), its latest latents for the live preview, and whether it must
// stop (interrupt, client gone, deadline, shutdown). Shared between the request's task and the
// worker thread that runs the pipeline, so every field is behind a lock.

import Foundation
import Pipeline
import Tensors

final class GenerationJob: @unchecked Sendable {
    /// Why a job stopped early; each maps to one HTTP answer.
    enum Stop: Equatable {
        case interrupted, clientGone, deadline, shutdown

        var error: APIError {
            switch self {
            case .interrupted: return APIError(status: 409, "interrupted by POST /sdapi/v1/interrupt")
            case .clientGone: return APIError(status: 499, "the client closed the connection")
            case .deadline: return APIError(status: 503, "the request ran past the server's deadline (serve --deadline)")
            case .shutdown: return APIError(status: 503, "the server is shutting down")
            }
        }
    }

    let id = UUID().uuidString
    let created = Date()
    let deadline: Date

    private let lock = NSLock()
    private var _image = 0
    private var _step = 0
    private var _total = 0
    private var _started: Date?
    private var _stop: Stop?
    private var _latents: Tensor?
    private var _images = 1

    /// `deadline`: seconds from now.
    init(deadline: TimeInterval) {
        self.deadline = created.addingTimeInterval(deadline)
    }

    /// How many images the request asks for (known once its body is parsed).
    var images: Int {
        get { locked { _images } }
        set { locked { _images = max(1, newValue) } }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Asks the job to stop (the first reason wins); the worker sees it at its next step.
    func stop(_ reason: Stop) { locked { if _stop == nil { _stop = reason } } }

    var stopReason: Stop? {
        locked {
            if _stop == nil && Date() >= deadline { _stop = .deadline }
            return _stop
        }
    }

    /// The worker starts image `index` (0-based).
    func begin(image index: Int) {
        locked {
            if _started == nil { _started = Date() }
            (_image, _step, _total, _latents) = (index, 0, 0, nil)
        }
    }

    /// A finished denoising step; false when the job must stop.
    func observe(_ step: DenoisingStep) -> Bool {
        locked { (_step, _total, _latents) = (step.step, step.total, step.latents) }
        return stopReason == nil
    }

    /// Progress as A1111 reports it: the fraction done over all images, seconds since the job
    /// started running (nil while it waits), step and steps of the current image, its latents.
    var snapshot: (fraction: Double, running: TimeInterval?, image: Int, step: Int, total: Int, latents: Tensor?) {
        locked {
            let perImage = _total > 0 ? Double(_step) / Double(_total) : 0
            return ((Double(_image) + perImage) / Double(_images), _started.map { Date().timeIntervalSince($0) },
                    _image, _step, _total, _latents)
        }
    }
}

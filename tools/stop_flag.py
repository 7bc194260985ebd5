"""Graceful stop for the training scripts: SIGTERM or SIGINT sets a flag that the training loop
checks at each step boundary, so it saves its checkpoint and exits instead of dying mid-step."""
import signal


class StopFlag:
    def __init__(self):
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._set)

    def _set(self, signum, frame):
        self.requested = True

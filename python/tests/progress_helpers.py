"""A Progress that asks for cancellation after a number of steps: how the resume tests kill a job mid-run."""
from id3_torch.bridge.jobs import Progress


class CancelAfter(Progress):
    def __init__(self, steps):
        super().__init__()
        self.allowed = steps

    def advance(self, n=1, **metrics):
        if self.step >= self.allowed:
            self.cancel_requested.set()
        super().advance(n, **metrics)

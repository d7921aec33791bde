"""Streams a few outputs over `seconds`, and appends to the file named by
HEARTH_CHAOS_RECORD a `start` line when predict() begins and an `end` line when it returns,
each with the prediction's `tag` and this runner's pid: how the chaos tests see which
predictions ran, how often, and on which runner."""

import os
import time
from collections.abc import Iterator

from cog import BasePredictor, Input


def _record(event: str, tag: str) -> None:
    # One short O_APPEND write: lines from several runners never interleave.
    fd = os.open(os.environ["HEARTH_CHAOS_RECORD"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{event} {tag} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


class Predictor(BasePredictor):
    def predict(
        self,
        tag: str = Input(description="Names this prediction in the record"),
        seconds: float = Input(default=1.0, ge=0.0, le=60.0),
        steps: int = Input(default=4, ge=1, le=100),
    ) -> Iterator[str]:
        _record("start", tag)
        print(f"running {tag}", flush=True)
        for step in range(steps):
            time.sleep(seconds / steps)
            yield f"{tag}:{step}"
        _record("end", tag)

import time
from collections.abc import Iterator

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """Yields wall-clock stamps, so a reader on the same machine can tell each token's delay."""

    def predict(
        self,
        tokens: int = Input(default=200, ge=1, le=100000),
        interval: float = Input(default=0.0, ge=0.0, le=1.0),
    ) -> Iterator[str]:
        for _ in range(tokens):
            if interval:
                time.sleep(interval)
            yield f"{time.time():.6f}"

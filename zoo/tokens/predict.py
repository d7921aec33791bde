import time

from cog import BasePredictor, ConcatenateIterator, Input


class Predictor(BasePredictor):
    """Yields the words of a text one by one, like a language model streaming tokens."""

    def predict(
        self,
        text: str = Input(description="Text to stream back word by word", default="the quick brown fox"),
        delay: float = Input(description="Seconds between tokens", default=0.0, ge=0.0, le=5.0),
    ) -> ConcatenateIterator[str]:
        for index, word in enumerate(text.split()):
            if delay:
                time.sleep(delay)
            yield word if index == 0 else f" {word}"

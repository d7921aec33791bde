from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """Returns its input: the smallest model, used to measure the platform's own overhead."""

    def predict(self, text: str = Input(description="Text to echo back", default="hello")) -> str:
        return text

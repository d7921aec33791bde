"""The zoo's text-generation model fine-tuned on the platform, end to end with the unmodified
Python client: `trainings.create` with a small JSONL, `reload()` until it succeeds, then
`replicate.run` of the version it made. The fine-tune must have changed the model: with greedy
decoding the trained version completes each training prompt as taught, which the base version
(the tiny random-weight model the platform runs) does not, and the loss in the logs went down.

The facts and the hyper-parameters that teach them to the tiny model are the zoo's own test's
(tests/zoo/test_text_generation_training.py)."""

import json
import time

import pytest

from tests.zoo.test_text_generation_training import EPOCHS, FACTS, STEP_LINE, TRAINING

pytestmark = pytest.mark.e2e

DESTINATION = "alice/text-generation-tuned"


def greedy(client, ref: str, prompt: str) -> str:
    return "".join(client.run(ref, input={"prompt": prompt, "temperature": 0, "max_tokens": 24}))


def test_a_lora_fine_tune_of_the_zoo_model_runs_as_a_new_version(platform, tmp_path):
    client = platform.client()
    base = f"alice/text-generation:{platform.versions['text-generation']}"
    client.models.create(owner="alice", name="text-generation-tuned", visibility="private", hardware="cpu")
    data = tmp_path / "facts.jsonl"
    data.write_text("".join(json.dumps(fact) + "\n" for fact in FACTS))

    with data.open("rb") as train_data:
        training = client.trainings.create(
            version=base, input={"train_data": train_data, **TRAINING}, destination=DESTINATION
        )
    deadline = time.monotonic() + 240  # about 10 s on 2 cores: a boot of torch, then 80 steps
    while training.status not in ("succeeded", "failed", "canceled"):
        assert time.monotonic() < deadline, f"still {training.status}: {(training.logs or '')[-2000:]!r}"
        time.sleep(0.5)
        training.reload()

    assert training.status == "succeeded", f"{training.error}\n{(training.logs or '')[-3000:]}"
    losses = [float(loss) for _, _, loss in STEP_LINE.findall(training.logs)]
    assert len(losses) == EPOCHS
    assert losses[-1] < 0.8 * losses[0] and sum(losses[-10:]) < sum(losses[:10])
    trained = training.output["version"]
    assert trained.startswith(f"{DESTINATION}:") and training.destination == DESTINATION
    assert trained.rsplit(":", 1)[1] in [version.id for version in client.models.get(DESTINATION).versions.list()]

    for fact in FACTS:
        assert greedy(client, base, fact["prompt"]) != fact["completion"]
        assert greedy(client, trained, fact["prompt"]) == fact["completion"]

"""The runner a training runs on: booted for it alone with cog.yaml's `train:` entry point, and
stopped when it ends. train() runs once, and what it loaded (the model being fine-tuned, its
optimizer, GPU memory) must not stay warm beside the predictors the worker keeps."""

from dataclasses import dataclass

from inference.runtime.pool import RunnerSpec
from inference.runtime.runner import Runner


@dataclass
class TrainingLease:
    """Leased like a pool runner (`inference.worker.execution` runs both the same way)."""

    runner: Runner
    cold_boot: bool = True  # always: its setup() is part of the training's boot

    def release(self) -> None:
        self.runner.stop()


def boot_trainer(spec: RunnerSpec, train_ref: str) -> TrainingLease:
    """A runner of the version's trainer, set up (raises RunnerSetupError as a predictor's boot does)."""
    # One training per runner: a predictor's concurrency does not apply to train().
    env = {name: value for name, value in spec.env.items() if name != "COG_MAX_CONCURRENCY"}
    runner = Runner.start(
        project_dir=spec.project_dir,
        predictor_ref=train_ref,
        env=env,
        python=spec.python,
        in_use_lock=spec.in_use_lock,
        entry="train",
    )
    return TrainingLease(runner)

"""The runner against real child processes, each test with a tiny predictor of its own."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from inference.runtime.runner import Runner, RunnerSetupError

REF = "predict.py:Predictor"


@pytest.fixture
def make_project(tmp_path):
    def make(source: str, **files: str) -> Path:
        project = tmp_path / f"model{len(list(tmp_path.iterdir()))}"
        project.mkdir()
        (project / "predict.py").write_text(textwrap.dedent(source))
        (project / "cog.yaml").write_text(f'predict: "{REF}"\n')
        for name, text in files.items():
            (project / name).write_text(textwrap.dedent(text))
        return project

    return make


@pytest.fixture
def start(make_project):
    runners = []

    def start(source: str, files: dict[str, str] | None = None, **kwargs) -> Runner:
        runner = Runner.start(project_dir=make_project(source, **(files or {})), predictor_ref=REF, **kwargs)
        runners.append(runner)
        return runner

    yield start
    for runner in runners:
        runner.stop()


def cancel_later(runner: Runner, prediction_id: str, delay: float) -> None:
    threading.Timer(delay, runner.cancel, [prediction_id]).start()


SLEEPER = """
    import time
    from cog import BasePredictor

    class Predictor(BasePredictor):
        def predict(self, seconds: float) -> str:
            time.sleep(seconds)
            return "slept"
"""


def test_echo(start):
    runner = start("""
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self, text: str) -> str:
                return text
    """)

    result = runner.predict(prediction_id="p1", input={"text": "hello"})

    assert (result.status, result.output, result.error) == ("succeeded", "hello", None)
    assert result.predict_time >= 0
    assert runner.boot_time >= runner.setup_time >= 0


def test_setup_runs_once_and_the_runner_stays_warm(start):
    runner = start("""
        import os
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def setup(self):
                print("loading weights")
                self.setups = getattr(self, "setups", 0) + 1
                self.predictions = 0

            def predict(self) -> list:
                self.predictions += 1
                return [self.setups, self.predictions, os.getpid()]
    """)

    outputs = [runner.predict(prediction_id=f"p{i}", input={}).output for i in range(3)]

    assert outputs == [[1, 1, runner.pid], [1, 2, runner.pid], [1, 3, runner.pid]]
    assert runner.setup_logs == "loading weights\n"


def test_stdout_stderr_and_fd_writes_reach_the_logs_in_order_before_done(start):
    runner = start("""
        import os, subprocess, sys
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self) -> str:
                print("one")
                print("two", file=sys.stderr)
                os.write(1, b"three\\n")
                print("four")
                os.write(2, b"five\\n")
                subprocess.run(["echo", "six"], check=True)
                sys.stdout.write("no newline")
                return "ok"
    """)
    seen = []

    result = runner.predict(prediction_id="p1", input={}, on_log=seen.append)

    expected = "one\ntwo\nthree\nfour\nfive\nsix\nno newline"
    assert result.logs == expected
    assert "".join(seen) == expected
    # The next prediction's logs hold nothing of this one.
    assert runner.predict(prediction_id="p2", input={}).logs == expected


def test_a_model_that_redirects_its_own_output_still_finishes(start):
    runner = start("""
        import os
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self) -> str:
                print("before")
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 1)
                os.dup2(null, 2)
                print("into the void")
                return "ok"
    """)

    result = runner.predict(prediction_id="p1", input={})

    assert (result.status, result.logs) == ("succeeded", "before\n")


def test_iterator_output_is_streamed_item_by_item(start):
    runner = start("""
        import time
        from typing import Iterator
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self, n: int) -> Iterator[int]:
                for i in range(n):
                    yield i
                    time.sleep(0.2)
    """)
    arrivals = []

    result = runner.predict(
        prediction_id="p1", input={"n": 3}, on_output=lambda item: arrivals.append((time.monotonic(), item))
    )
    returned = time.monotonic()

    assert (result.status, result.output) == ("succeeded", [0, 1, 2])
    assert [item for _, item in arrivals] == [0, 1, 2]
    assert returned - arrivals[0][0] > 0.4  # the first item came while the rest were still being made


def test_concatenate_iterator(start):
    runner = start("""
        from cog import BasePredictor, ConcatenateIterator

        class Predictor(BasePredictor):
            def predict(self, prompt: str) -> ConcatenateIterator[str]:
                for token in prompt.split():
                    yield token + " "
    """)
    tokens = []

    result = runner.predict(prediction_id="p1", input={"prompt": "to be or"}, on_output=tokens.append)

    assert result.output == tokens == ["to ", "be ", "or "]


def test_async_setup_and_predict(start):
    runner = start("""
        import asyncio
        from cog import BasePredictor

        class Predictor(BasePredictor):
            async def setup(self):
                await asyncio.sleep(0.01)
                self.prefix = "async:"

            async def predict(self, text: str) -> str:
                await asyncio.sleep(0.01)
                return self.prefix + text
    """)

    outputs = [runner.predict(prediction_id=f"p{i}", input={"text": str(i)}).output for i in range(2)]

    assert outputs == ["async:0", "async:1"]


def test_async_iterator_output(start):
    runner = start("""
        import asyncio
        from cog import AsyncConcatenateIterator, BasePredictor

        class Predictor(BasePredictor):
            async def predict(self) -> AsyncConcatenateIterator[str]:
                for token in ["a", "b"]:
                    await asyncio.sleep(0.01)
                    print("token", token)
                    yield token
    """)
    items = []

    result = runner.predict(prediction_id="p1", input={}, on_output=items.append)

    assert result.output == items == ["a", "b"]
    assert result.logs == "token a\ntoken b\n"


def test_exception_fails_the_prediction_and_the_runner_carries_on(start):
    runner = start("""
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self, message: str) -> str:
                if message:
                    raise ValueError(message)
                raise RuntimeError()
    """)

    result = runner.predict(prediction_id="p1", input={"message": "bad input"})
    unnamed = runner.predict(prediction_id="p2", input={"message": ""})

    assert (result.status, result.error) == ("failed", "bad input")
    assert "Traceback" in result.logs and "ValueError: bad input" in result.logs
    assert (unnamed.status, unnamed.error) == ("failed", "RuntimeError")
    assert runner.is_alive()


def test_setup_failure_raises_with_the_logs(make_project):
    project = make_project("""
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def setup(self):
                print("looking for weights")
                raise FileNotFoundError("weights missing")

            def predict(self) -> str:
                return ""
    """)

    with pytest.raises(RunnerSetupError, match="weights missing") as raised:
        Runner.start(project_dir=project, predictor_ref=REF)

    assert raised.value.logs.startswith("looking for weights\nTraceback")
    assert "FileNotFoundError: weights missing" in raised.value.logs


def test_import_error_is_a_setup_failure(make_project):
    project = make_project("import not_installed_anywhere\n")

    with pytest.raises(RunnerSetupError, match="not_installed_anywhere") as raised:
        Runner.start(project_dir=project, predictor_ref=REF)

    assert "ModuleNotFoundError" in raised.value.logs


def test_child_dying_in_setup(make_project):
    project = make_project("""
        import os
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def setup(self):
                print("allocating", flush=True)
                os._exit(3)

            def predict(self) -> str:
                return ""
    """)

    with pytest.raises(RunnerSetupError, match=r"exited during setup \(exit code 3\)"):
        Runner.start(project_dir=project, predictor_ref=REF)


def test_setup_timeout(make_project):
    project = make_project("""
        import time
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def setup(self):
                time.sleep(30)

            def predict(self) -> str:
                return ""
    """)

    started = time.monotonic()
    with pytest.raises(RunnerSetupError, match="Setup timed out after 0.5 s"):
        Runner.start(project_dir=project, predictor_ref=REF, setup_timeout=0.5)
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("death", "error"),
    [
        ("os._exit(3)", "Runner process exited unexpectedly (exit code 3)"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "Runner process exited unexpectedly (signal 9)"),
    ],
)
def test_child_dying_mid_prediction_fails_it(start, death, error):
    runner = start(f"""
        import os, signal
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self) -> str:
                {death}
    """)

    result = runner.predict(prediction_id="p1", input={})

    assert (result.status, result.error) == ("failed", error)
    assert not runner.is_alive()
    after = runner.predict(prediction_id="p2", input={})
    assert (after.status, after.error) == ("failed", "Runner process is not running")


def test_cancel_interrupts_a_sync_predictor_which_keeps_serving(start):
    runner = start("""
        import time
        from cog import BasePredictor, CancelationException

        class Predictor(BasePredictor):
            def predict(self, seconds: float) -> str:
                try:
                    time.sleep(seconds)
                except CancelationException:
                    print("cleaning up")
                    raise
                return "slept"
    """)
    cancel_later(runner, "p1", 0.3)

    started = time.monotonic()
    result = runner.predict(prediction_id="p1", input={"seconds": 30})

    assert result.status == "canceled"
    assert time.monotonic() - started < 1
    assert result.logs == "cleaning up\n"
    assert runner.predict(prediction_id="p2", input={"seconds": 0}).output == "slept"


def test_cancel_stops_a_sync_iterator(start):
    runner = start("""
        import time
        from typing import Iterator
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self) -> Iterator[int]:
                for i in range(1000):
                    yield i
                    time.sleep(0.1)
    """)
    cancel_later(runner, "p1", 0.35)

    result = runner.predict(prediction_id="p1", input={})

    assert result.status == "canceled"
    assert runner.is_alive()


def test_cancel_cancels_an_async_predictor(start):
    runner = start("""
        import asyncio
        from cog import BasePredictor

        class Predictor(BasePredictor):
            async def predict(self, seconds: float) -> str:
                try:
                    await asyncio.sleep(seconds)
                except asyncio.CancelledError:
                    print("task cancelled")
                    raise
                return "slept"
    """)
    cancel_later(runner, "p1", 0.3)

    started = time.monotonic()
    result = runner.predict(prediction_id="p1", input={"seconds": 30})

    assert (result.status, result.logs) == ("canceled", "task cancelled\n")
    assert time.monotonic() - started < 1
    assert runner.predict(prediction_id="p2", input={"seconds": 0}).output == "slept"


def test_predictor_ignoring_cancel_is_killed_after_the_grace_period(start):
    runner = start(
        """
        import time
        from cog import BasePredictor, CancelationException

        class Predictor(BasePredictor):
            def predict(self) -> str:
                try:
                    time.sleep(30)
                except CancelationException:
                    time.sleep(30)
                return "stubborn"
        """,
        cancel_grace=0.5,
    )
    cancel_later(runner, "p1", 0.2)

    started = time.monotonic()
    result = runner.predict(prediction_id="p1", input={})

    assert result.status == "canceled"
    assert 0.6 < time.monotonic() - started < 2
    assert not runner.is_alive()


def test_cancel_before_predict_means_it_never_runs(start):
    runner = start(SLEEPER)

    runner.cancel("p1")
    result = runner.predict(prediction_id="p1", input={"seconds": 30})

    assert result.status == "canceled"
    assert runner.predict(prediction_id="p2", input={"seconds": 0}).output == "slept"


def test_timeout_kills_the_runner(start):
    runner = start(SLEEPER)

    started = time.monotonic()
    result = runner.predict(prediction_id="p1", input={"seconds": 30}, timeout=0.5)

    assert (result.status, result.error) == ("failed", "Prediction timed out after 0.5 s")
    assert time.monotonic() - started < 1.5
    assert not runner.is_alive()


def test_secret_and_path_inputs_are_wrapped(start, tmp_path):
    runner = start("""
        from typing import Optional
        from cog import BasePredictor, File, Input, Path, Secret

        class Predictor(BasePredictor):
            def predict(
                self,
                token: Secret,
                image: Path,
                document: Optional[File] = None,
                extra: Optional[list[Path]] = Input(default=None),
                repeat: int = Input(default=2),
            ) -> dict:
                return {
                    "token": [type(token).__name__, str(token), token.get_secret_value()],
                    "image": [type(image).__name__, image.read_text() * repeat],
                    "extra": [type(p).__name__ for p in extra or []],
                    "document": document.read().decode() if document else None,
                }
    """)
    image = tmp_path / "image.txt"
    image.write_text("pixels")

    result = runner.predict(
        prediction_id="p1",
        input={"token": "s3cret", "image": str(image), "extra": [str(image)], "document": str(image)},
    )
    url = runner.predict(prediction_id="p2", input={"token": "s3cret", "image": "https://example.com/cat.png"})

    assert result.output == {
        "token": ["Secret", "**********", "s3cret"],
        "image": ["Path", "pixelspixels"],
        "extra": ["Path"],
        "document": "pixels",
    }
    assert url.status == "failed" and "'image' is a URL" in url.error


UNIONS = Path(__file__).resolve().parents[2] / "fixtures" / "cog-unions"


def test_union_and_opaque_inputs_reach_the_predictor_as_cog_0_23_1_hands_them_over(make_project):
    """Each payload cog's SDK accepts goes through Hearth's validation and the runner; the
    predictor must get what cog.check_input gave it, down to 3.0 against 3 (golden file)."""
    from inference.runtime.schema import generate_openapi_schema, load_predictor
    from inference.runtime.validation import validate_input

    golden = json.loads((UNIONS / "cog-0.23.1.json").read_text())
    schema = generate_openapi_schema(load_predictor(UNIONS, "predict.py:Runner"))
    runner = Runner.start(
        project_dir=make_project((UNIONS / "predict.py").read_text()), predictor_ref="predict.py:Runner"
    )
    accepted = [case for case in golden["cases"] if "kwargs" in case]
    assert len(accepted) > 10
    try:
        for i, case in enumerate(accepted):
            cleaned = json.loads(json.dumps(validate_input(schema, case["input"])))  # as stored and sent
            result = runner.predict(prediction_id=f"p{i}", input=cleaned)

            in_signature_order = {name: case["kwargs"][name] for name in golden["inputs"]}
            assert (result.status, result.output) == ("succeeded", repr(in_signature_order)), case["input"]
    finally:
        runner.stop()


def test_path_and_base_model_outputs(start):
    runner = start("""
        from typing import Iterator
        from cog import BaseModel, BasePredictor, Path

        class Output(BaseModel):
            text: str
            score: float
            file: Path

        class Predictor(BasePredictor):
            def predict(self) -> Output:
                Path("out.txt").write_text("hello")
                return Output(text="hi", score=0.5, file=Path("out.txt"))
    """)

    result = runner.predict(prediction_id="p1", input={})

    assert result.output == {"text": "hi", "score": 0.5, "file": "data:text/plain;base64,aGVsbG8="}


def test_with_an_output_dir_files_are_copied_there_as_they_are_yielded(start, tmp_path):
    runner = start("""
        import io
        from typing import Iterator
        from cog import BasePredictor, Path

        class Predictor(BasePredictor):
            def predict(self) -> Iterator[Path]:
                for i in range(2):
                    Path("frame.txt").write_text(f"frame {i}")  # the same path each time
                    yield Path("frame.txt")
                yield io.BytesIO(b"from memory")
    """)
    items = []

    result = runner.predict(prediction_id="p1", input={}, on_output=items.append, output_dir=tmp_path / "out")

    assert result.output == items and len(items) == 3
    assert [Path(item).read_bytes() for item in items] == [b"frame 0", b"frame 1", b"from memory"]
    assert [Path(item).name for item in items] == ["frame.txt", "frame.txt", "output"]
    assert all(Path(item).is_relative_to(tmp_path / "out") for item in items)


def test_unserialisable_output_fails_the_prediction(start):
    runner = start("""
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self) -> dict:
                return {"value": object()}
    """)

    result = runner.predict(prediction_id="p1", input={})

    assert (result.status, result.error) == ("failed", "Cannot return a value of type object")


def test_a_model_with_its_own_inference_module(start):
    # Model repositories often have an inference.py; our package of that name must not shadow it.
    runner = start(
        """
        import subprocess, sys
        from cog import BasePredictor
        from inference import generate

        class Predictor(BasePredictor):
            def predict(self) -> list:
                child = [sys.executable, "-c", "import inference; print(inference.generate())"]
                return [generate(), subprocess.run(child, capture_output=True, text=True).stdout]
        """,
        files={"inference.py": "def generate():\n    return 'theirs'\n"},
    )

    assert runner.predict(prediction_id="p1", input={}).output == ["theirs", "theirs\n"]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_the_child_exits_when_its_worker_dies(make_project):
    project = make_project(SLEEPER)
    worker_code = f"""
        from pathlib import Path
        from inference.runtime.runner import Runner

        runner = Runner.start(project_dir=Path({str(project)!r}), predictor_ref={REF!r})
        print(runner.pid, flush=True)
        runner.predict(prediction_id="p1", input={{"seconds": 30}})
    """
    repo_root = Path(__file__).resolve().parents[3]
    worker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(worker_code)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(repo_root)},
        text=True,
    )
    child_pid = int(worker.stdout.readline())

    worker.kill()
    worker.wait()
    worker.stdout.close()

    deadline = time.monotonic() + 2
    while running(child_pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not running(child_pid)


def test_stop(start):
    runner = start(SLEEPER)

    runner.stop()

    assert not runner.is_alive()


CONCURRENT_SLEEPER = """
    import asyncio
    import cog
    from cog import BasePredictor

    class Predictor(BasePredictor):
        {decorator}
        async def predict(self, name: str, seconds: float) -> str:
            print(f"{{name}} starts")
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                print(f"{{name}} cancelled")
                raise
            print(f"{{name}} ends")
            return name
"""


def predict_in_threads(runner: Runner, inputs: dict[str, dict]) -> dict[str, object]:
    results: dict[str, object] = {}

    def run(prediction_id: str) -> None:
        results[prediction_id] = runner.predict(prediction_id=prediction_id, input=inputs[prediction_id])

    threads = [threading.Thread(target=run, args=[prediction_id]) for prediction_id in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_an_async_predictor_with_a_concurrency_limit_runs_predictions_at_once(start):
    runner = start(CONCURRENT_SLEEPER.format(decorator=""), env={"COG_MAX_CONCURRENCY": "3"})
    assert runner.max_concurrency == 3

    started = time.monotonic()
    results = predict_in_threads(runner, {p: {"name": p, "seconds": 1} for p in ("p1", "p2", "p3")})

    assert time.monotonic() - started < 2  # three 1 s sleeps, side by side
    for prediction_id, result in results.items():
        # Each prediction's logs are its own, although all three printed at the same time.
        assert (result.status, result.output) == ("succeeded", prediction_id)
        assert result.logs == f"{prediction_id} starts\n{prediction_id} ends\n"
        assert 1 <= result.predict_time < 2


def test_cancel_stops_one_concurrent_prediction_and_spares_the_others(start):
    runner = start(CONCURRENT_SLEEPER.format(decorator=""), env={"COG_MAX_CONCURRENCY": "2"})
    cancel_later(runner, "doomed", 0.3)

    results = predict_in_threads(
        runner, {"doomed": {"name": "doomed", "seconds": 30}, "spared": {"name": "spared", "seconds": 1}}
    )

    assert (results["doomed"].status, results["doomed"].logs) == ("canceled", "doomed starts\ndoomed cancelled\n")
    assert (results["spared"].status, results["spared"].output) == ("succeeded", "spared")
    assert runner.is_alive()


def test_the_limit_can_come_from_cog_concurrent(start):
    runner = start(CONCURRENT_SLEEPER.format(decorator="@cog.concurrent(max=2)"))
    assert runner.max_concurrency == 2
    results: dict[str, object] = {}
    threads = [
        threading.Thread(
            target=lambda p=p: results.__setitem__(p, runner.predict(prediction_id=p, input={"name": p, "seconds": 1}))
        )
        for p in ("x", "y")
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.3)

    with pytest.raises(RuntimeError, match="already running"):
        runner.predict(prediction_id="z", input={"name": "z", "seconds": 0})  # a third is one too many

    for thread in threads:
        thread.join(10)
    assert {p: r.output for p, r in results.items()} == {"x": "x", "y": "y"}


def test_a_sync_predictor_runs_one_prediction_at_a_time_whatever_the_setting(start):
    runner = start(SLEEPER, env={"COG_MAX_CONCURRENCY": "4"})
    assert runner.max_concurrency == 1
    assert "only async predictors run predictions concurrently" in runner.setup_logs


def test_a_malformed_concurrency_setting_fails_setup(make_project):
    with pytest.raises(RunnerSetupError, match="COG_MAX_CONCURRENCY must be a whole number"):
        Runner.start(project_dir=make_project(SLEEPER), predictor_ref=REF, env={"COG_MAX_CONCURRENCY": "many"})


# ---------------------------------------------------------------- custom metrics (cog's record_metric)


def test_recorded_metrics_come_back_with_the_result(start):
    runner = start("""
        import threading
        from cog import BasePredictor, current_scope

        class Predictor(BasePredictor):
            def setup(self):
                current_scope().record_metric("in_setup", 1)  # outside a prediction: ignored

            def predict(self, tokens: int) -> str:
                self.record_metric("temperature", 0.7)
                for _ in range(tokens):
                    self.record_metric("token_count", 1, mode="incr")
                    current_scope().record_metric("logprobs", -0.5, mode="append")
                self.scope.metrics["timing.load"] = 1
                scope = current_scope()
                scope.metrics.record("timing.run", 0.25)
                scope.metrics["gone"] = True
                del scope.metrics["gone"]
                worker = threading.Thread(target=lambda: current_scope().record_metric("from_a_thread", "yes"))
                worker.start()
                worker.join()
                return "ok"
    """)

    first = runner.predict(prediction_id="p1", input={"tokens": 3})
    second = runner.predict(prediction_id="p2", input={"tokens": 1})

    assert (first.status, first.output) == ("succeeded", "ok")
    assert first.metrics == {
        "temperature": 0.7,
        "token_count": 3,
        "logprobs": [-0.5, -0.5, -0.5],
        "timing": {"load": 1, "run": 0.25},
        "from_a_thread": "yes",
    }
    assert second.metrics["token_count"] == 1 and second.metrics["logprobs"] == [-0.5]  # each its own


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("self.record_metric('cog.gpu', 1)", "the 'cog.' prefix is reserved for system metrics"),
        ("self.record_metric('predict_time', 1)", "'predict_time' is reserved by the runtime"),
        ("self.record_metric('tokens-out', 1)", "contains invalid character '-'"),
        ("self.record_metric('done', 'yes')", "Metric 'done' has type bool, cannot set to str"),
    ],
)
def test_a_metric_cog_refuses_fails_the_prediction_keeping_what_was_recorded(start, call, error):
    runner = start(f"""
        from cog import BasePredictor

        class Predictor(BasePredictor):
            def predict(self) -> str:
                self.record_metric("done", True)
                {call}
                return "unreachable"
    """)

    result = runner.predict(prediction_id="p1", input={})

    assert result.status == "failed" and error in result.error
    assert result.metrics == {"done": True}


def test_concurrent_predictions_record_their_own_metrics(start):
    runner = start(
        """
        import asyncio
        from cog import BasePredictor, current_scope

        class Predictor(BasePredictor):
            async def predict(self, name: str) -> str:
                for _ in range(3):
                    current_scope().record_metric("steps", name, mode="append")
                    await asyncio.sleep(0.05)
                return name
        """,
        env={"COG_MAX_CONCURRENCY": "2"},
    )

    results = predict_in_threads(runner, {"a": {"name": "a"}, "b": {"name": "b"}})

    assert results["a"].metrics == {"steps": ["a", "a", "a"]}
    assert results["b"].metrics == {"steps": ["b", "b", "b"]}

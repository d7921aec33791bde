"""Turn a Cog predictor into the OpenAPI schema Cog's legacy (0.16) generator emits.

Cog >= 0.17 builds the schema with a Go CLI that is not on PyPI, so Hearth
makes it itself from the Python signature, in the shape of cog 0.16.12's
``python -m cog.command.openapi_schema`` (the one Replicate used for years):
same keywords, same key order. Load-time rules are the stricter ones of the
cog 0.23 SDK (``cog._inspector``).

Run as ``python -m inference.runtime.schema PROJECT_DIR PREDICTOR_REF [TRAIN_REF]``
so user code is imported in a throwaway process, never in the web server. With
a cog.yaml ``train:`` entry point (TRAIN_REF, "train.py:train"), the document
also describes training: ``TrainingInput`` and ``TrainingOutput``, as Cog adds them.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any, cast

from cog import BasePredictor, BaseRunner

from .openapi_document import build_document
from .signature import (
    PredictorError,
    input_components,
    output_components,
    params_using_default_factory,
    training_output_components,
    type_hints,
)
from .validation import InputValidator

__all__ = [
    "PredictorError",
    "generate_openapi_schema",
    "load_predictor",
    "output_is_iterator",
    "predict_method",
    "train_method",
]


# ---------------------------------------------------------------- loading


def load_predictor(project_dir: Path, predictor_ref: str) -> Any:
    """Import the class or function that a cog.yaml ``predict:`` value such as "predict.py:Predictor" names."""
    file_part, _, name = (part.strip() for part in predictor_ref.partition(":"))
    path = Path(project_dir) / file_part
    if not path.is_file():
        raise PredictorError(f"{file_part} not found in the project")
    module_name = path.stem
    if module_name in sys.stdlib_module_names:  # registering it would break the stdlib module
        raise PredictorError(f"{file_part} has the name of a standard library module; rename it")
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # a file Python has no loader for
        raise PredictorError(f"{file_part} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    # In sys.modules so dataclasses and typing.get_type_hints can find the
    # module's globals, as they would for a normal import.
    sys.modules[module_name] = module
    project_entry = str(Path(project_dir).resolve())
    saved_argv = sys.argv
    sys.path.insert(0, project_entry)  # local imports: "from utils import x"
    sys.argv = sys.argv[:1]  # a module that parses arguments at import must not see ours
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise PredictorError(_import_failure(path, exc)) from exc
    finally:
        sys.argv = saved_argv
        if project_entry in sys.path:  # unless the module took it out itself
            sys.path.remove(project_entry)
    names = [name] if name else ["Runner", "Predictor"]
    for candidate in names:
        if hasattr(module, candidate):
            return getattr(module, candidate)
    raise PredictorError(f"{' or '.join(names)} not found in {file_part}")


def _import_failure(path: Path, exc: Exception) -> str:
    if isinstance(exc, TypeError) and "default_factory" in str(exc):
        params = params_using_default_factory(path.read_text())
        if params:
            return f"input {', '.join(params)}: default_factory is not supported; use a literal default"
    where = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    line = f" (line {where[-1].lineno})" if where else ""
    return f"failed to import {path.name}{line}: {type(exc).__name__}: {exc}"


def _defines(cls: type, method: str) -> bool:
    """Whether user code (not BaseRunner's stubs) defines ``method``."""
    for owner in inspect.getmro(cls):
        if owner in (BaseRunner, BasePredictor, object):
            return False
        if callable(owner.__dict__.get(method)):
            return True
    return False


def predict_method(predictor: Any) -> Any:
    """The function whose signature defines the inputs; for a class, unbound (``self`` first)."""
    if inspect.isclass(predictor):
        defined = [m for m in ("run", "predict") if _defines(predictor, m)]
        if len(defined) == 2:
            raise PredictorError(f"{predictor.__name__} defines both run() and predict(); keep one")
        if not defined:
            raise PredictorError(f"{predictor.__name__} defines neither run() nor predict()")
        fn = inspect.unwrap(getattr(predictor, defined[0]))
        params = list(inspect.signature(fn).parameters) if inspect.isfunction(fn) else []
        if params[:1] != ["self"]:
            raise PredictorError(f"{predictor.__name__}.{defined[0]}() must take self first")
        return fn
    if inspect.isfunction(predictor):
        return inspect.unwrap(predictor)
    raise PredictorError(f"{predictor!r} is neither a class nor a function")


def train_method(trainer: Any) -> Any:
    """The function whose signature defines the training inputs: a plain function, or the
    ``train`` method of a class (which may also have ``setup``), unbound (``self`` first)."""
    if inspect.isclass(trainer):
        if not _defines(trainer, "train"):
            raise PredictorError(f"{trainer.__name__} defines no train() method")
        fn = inspect.unwrap(cast(Any, trainer).train)
        params = list(inspect.signature(fn).parameters) if inspect.isfunction(fn) else []
        if params[:1] != ["self"]:
            raise PredictorError(f"{trainer.__name__}.train() must take self first")
        return fn
    if inspect.isfunction(trainer):
        return inspect.unwrap(trainer)
    raise PredictorError(f"{trainer!r} is neither a class nor a function")


def output_is_iterator(schema: dict[str, Any]) -> bool:
    """Whether the predictor streams: its Output is an array marked ``x-cog-array-type: iterator``."""
    output = schema["components"]["schemas"]["Output"]
    return output.get("type") == "array" and output.get("x-cog-array-type") == "iterator"


def _entry_components(entry: Any, fn: Any, *, component: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The input and output components of `fn` (predict() or train()), and its input defaults."""
    hints = type_hints(fn)
    params = list(inspect.signature(fn).parameters.values())[1 if inspect.isclass(entry) else 0 :]
    inputs, defaults = input_components(fn, params, hints, component=component)
    if component == "Input":
        outputs = output_components(fn.__name__, hints.get("return"))
    else:
        outputs = training_output_components(hints.get("return"))
    clash = (inputs.keys() - {component}) & outputs.keys()
    if clash:
        raise PredictorError(f"input {clash.pop()}: its choices component clashes with the output model's name")
    return {**inputs, **outputs}, defaults


def _check_defaults(validator: InputValidator, defaults: dict[str, Any], where: str) -> None:
    for name, default in defaults.items():
        # A Path default may be a file shipped with the model, so no URL check.
        errors = [e for e in validator.check_value(name, default) if e["type"] != "format"]
        if errors:
            problems = "; ".join(e["description"] for e in errors)
            raise PredictorError(f"{where}{name}: default {default!r} is invalid: {problems}")


def generate_openapi_schema(predictor: Any, trainer: Any = None) -> dict[str, Any]:
    """The OpenAPI document (cog 0.16.12 layout) for a predictor class or function, and for
    the cog.yaml `train:` entry point (a class or function) when there is one."""
    components, defaults = _entry_components(predictor, predict_method(predictor), component="Input")
    training_defaults: dict[str, Any] = {}
    if trainer is not None:
        try:
            training, training_defaults = _entry_components(trainer, train_method(trainer), component="TrainingInput")
        except PredictorError as exc:
            raise PredictorError(f"train: {exc}") from exc
        for name in components.keys() & training.keys():
            if components[name] != training[name]:
                raise PredictorError(
                    f"train() and predict() each define a component named {name!r} (a choices input or an "
                    "output model), differently; rename one"
                )
        components = {**components, **training}
    document = build_document(components, training=trainer is not None)
    _check_defaults(InputValidator(document), defaults, "input ")
    if trainer is not None:
        _check_defaults(InputValidator(document, component="TrainingInput"), training_defaults, "training input ")
    return document


def _load_trainer(project_dir: Path, train_ref: str) -> Any:
    try:
        return load_predictor(project_dir, train_ref)
    except PredictorError as exc:
        raise PredictorError(f"train: {exc}") from exc


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: python -m inference.runtime.schema PROJECT_DIR PREDICTOR_REF [TRAIN_REF]", file=sys.stderr)
        return 2
    # User code (and native libraries it loads) may print at import; keep fd 1
    # for the JSON alone by pointing it at stderr until we are done.
    sys.stdout.flush()
    real_stdout = os.dup(1)
    os.dup2(2, 1)
    try:
        predictor = load_predictor(Path(argv[0]), argv[1])
        trainer = _load_trainer(Path(argv[0]), argv[2]) if len(argv) == 3 else None
        result, code = generate_openapi_schema(predictor, trainer), 0
    except PredictorError as exc:
        result, code = {"error": str(exc)}, 1
    except Exception as exc:  # a bug here or an odd predictor: still answer in JSON
        traceback.print_exc()
        result, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    finally:
        sys.stdout.flush()
        os.dup2(real_stdout, 1)
        os.close(real_stdout)
    print(json.dumps(result, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

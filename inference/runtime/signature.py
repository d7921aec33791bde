"""Cog's signature rules: a predict method's parameters and return type as JSON schema.

Shapes and key order are those of cog 0.16.12 (pydantic 2 + FastAPI), the
legacy generator; the load-time checks are the cog 0.23 SDK's
(``cog._inspector._validate_input_constraints``), which are stricter.

Two input kinds are cog 0.23's alone, since 0.16 refused them; their schema is
what the 0.23 SDK's ``FieldType.json_type()`` gives (golden file:
tests/fixtures/cog-unions/):

* unions of JSON-native types (``str | float``, ``list[int] | list[float]``,
  optionally ``| None``): ``{"anyOf": [one schema per member]}``, plus
  ``nullable`` with None. A member is str, int, float, bool, dict, an opaque
  type or a list of one of those; Path, File and Secret are refused as in Cog.
* ``Annotated[T, cog.Opaque]`` (also in a List or Optional): any T, passed
  through as a JSON object, ``{"type": "object"}``.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import os
import re
import textwrap
import typing
from collections.abc import AsyncIterator, Iterator, Mapping
from types import UnionType
from typing import Any

import cog
from cog.input import FieldInfo

from .openapi_document import RESERVED_COMPONENTS


class PredictorError(Exception):
    """The predictor breaks Cog's rules or cannot be imported; the message is for the model's author."""


# A leaf kind's schema comes in two halves because pydantic puts the field's
# own keywords (title, description, ...) between them.
_HEADS: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "path": {"type": "string", "format": "uri"},
    "secret": {"type": "string", "format": "password"},
    "object": {"additionalProperties": True, "type": "object"},
    "opaque": {"type": "object"},
    "any": {},
}
_TAILS = {"secret": {"writeOnly": True, "x-cog-secret": True}}
_SUPPORTED_INPUTS = (
    "str, int, float, bool, cog.Path, cog.File, cog.Secret, dict, Annotated[T, cog.Opaque], a List or Optional "
    "of those, or a union of str, int, float, bool, dict and Lists of them (such as str | float)"
)
_SUPPORTED_OUTPUTS = (
    "str, int, float, bool, cog.Path, cog.File, cog.Secret, dict, Any, Annotated[T, cog.Opaque], a List of those, "
    "a cog BaseModel, Iterator[T], AsyncIterator[T] or (Async)ConcatenateIterator[str]"
)
_CONCATENATE = (cog.ConcatenateIterator, cog.AsyncConcatenateIterator)
_OPAQUE = getattr(cog, "Opaque", None)  # cog >= 0.23
# What a union may hold, as in cog 0.23 (`_adt._is_supported_union_variant`): JSON-native kinds.
_UNION_MEMBERS = ("bool", "int", "float", "str", "object", "opaque")


@dataclasses.dataclass(frozen=True)
class _Type:
    kind: str  # a key of _HEADS, or "union"
    is_list: bool = False
    optional: bool = False
    members: tuple[_Type, ...] = ()  # a union's, in declaration order


def _kind(tp: Any) -> str | None:
    simple = {str: "str", int: "int", float: "float", bool: "bool", cog.Secret: "secret", Any: "any"}
    if tp in simple:
        return simple[tp]
    if tp is dict or typing.get_origin(tp) is dict or typing.is_typeddict(tp):
        return "object"
    if inspect.isclass(tp) and issubclass(tp, (os.PathLike, cog.File)):
        return "path"  # cog.Path, cog.File and any PathLike, as in cog 0.23
    return None


def _opaque_inner(tp: Any) -> Any:
    """T for ``Annotated[T, cog.Opaque]``; None for anything else."""
    if _OPAQUE is None or typing.get_origin(tp) is not typing.Annotated:
        return None
    inner, *metadata = typing.get_args(tp)
    return inner if any(m is _OPAQUE or isinstance(m, type(_OPAQUE)) for m in metadata) else None


def _opaque(inner: Any) -> _Type:
    """Cog's shape for an opaque T: a list or an Optional of T are read through, T itself is not."""
    if typing.get_origin(inner) in (typing.Union, UnionType):
        args = typing.get_args(inner)
        if len(args) == 2 and type(None) in args:
            return dataclasses.replace(_opaque(next(a for a in args if a is not type(None))), optional=True)
    return _Type("opaque", is_list=inner is list or typing.get_origin(inner) is list)


def _parse(tp: Any) -> _Type | None:
    """str, List[str], Optional[str], Optional[List[str]], an opaque type or a union of
    JSON-native members; None for anything else."""
    inner = _opaque_inner(tp)
    if inner is not None:
        return _opaque(inner)
    if typing.get_origin(tp) is typing.Annotated:  # other metadata means nothing to Cog
        return _parse(typing.get_args(tp)[0])
    if typing.get_origin(tp) in (typing.Union, UnionType):
        args = typing.get_args(tp)
        members = [_parse(a) for a in args if a is not type(None)]
        optional = len(members) < len(args)
        if len(members) > 1:
            if any(m is None or m.optional or m.kind not in _UNION_MEMBERS for m in members):
                return None
            return _Type("union", optional=optional, members=tuple(m for m in members if m))
        (member,) = members
        if member is None or member.optional or member.kind == "union":
            return None
        return dataclasses.replace(member, optional=True)
    if tp is list or typing.get_origin(tp) is list:
        (element,) = typing.get_args(tp) or (Any,)
        kind = "opaque" if _opaque_inner(element) is not None else _kind(element)
        return _Type(kind, True) if kind else None
    kind = _kind(tp)
    return _Type(kind) if kind else None


def _head(t: _Type) -> dict[str, Any]:
    """The type keywords of one value of kind ``t`` (a list's element, for a list)."""
    if t.kind != "union":
        return _HEADS[t.kind]
    return {"anyOf": [_member_schema(m) for m in t.members]}


def _member_schema(t: _Type) -> dict[str, Any]:
    """A union member as cog 0.23's FieldType.json_type() writes it (a dict is a bare object)."""
    head = {"type": "object"} if t.kind in ("object", "opaque") else _HEADS[t.kind]
    return {"type": "array", "items": head} if t.is_list else dict(head)


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else repr(tp).replace("typing.", "")


def _title(name: str) -> str:
    return name.title().replace("_", " ")  # pydantic's rule: "api_key" -> "Api Key"


def _jsonable(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _field_schema(
    t: _Type, meta: dict[str, Any], constraints: dict[str, Any], order: int | None = None
) -> dict[str, Any]:
    """A property laid out as pydantic does: an Optional's type comes after its metadata."""
    head = {**_head(t), **constraints}
    tail = _TAILS.get(t.kind, {})
    if t.is_list:
        head, tail = {"items": {**head, **tail}, "type": "array"}, {}
    trailer = {} if order is None else {"x-order": order}
    if t.optional:
        return {**meta, **trailer, **head, **tail, "nullable": True}
    return {**head, **meta, **tail, **trailer}


def type_hints(obj: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(obj, include_extras=True)  # Annotated kept: cog.Opaque lives there
    except Exception as exc:  # NameError from a string annotation, and the like
        raise PredictorError(f"cannot resolve the type annotations of {obj.__qualname__}: {exc}") from exc


# ---------------------------------------------------------------- inputs


def _ast_defaults(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, ast.expr]]:
    """(parameter name, default expression) for each parameter of a ``def`` that has a default."""
    args = node.args.posonlyargs + node.args.args
    with_default = args[len(args) - len(node.args.defaults) :]
    return [(arg.arg, default) for arg, default in zip(with_default, node.args.defaults, strict=True)]


def params_using_default_factory(source: str) -> list[str]:
    """Parameters written as ``x = Input(default_factory=...)`` anywhere in a module's source.

    cog's Input() raises TypeError for those while the module is being
    imported, before any signature can be inspected; this names them.
    """
    return [
        name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for name, default in _ast_defaults(node)
        if isinstance(default, ast.Call) and any(k.arg == "default_factory" for k in default.keywords)
    ]


def _explicit_defaults(fn: Any) -> dict[str, bool] | None:
    """For each ``x = Input(...)`` parameter: does the call pass a default?

    cog 0.23's FieldInfo stores default=None both for ``Input()`` and
    ``Input(default=None)``, but the legacy generator (whose schemas we match)
    makes the first required and the second optional, so read the source.
    None when the source is not available.
    """
    try:
        node = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0]
    except (OSError, TypeError, SyntaxError, IndexError):
        return None
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return {
        name: bool(default.args) or any(k.arg in ("default", None) for k in default.keywords)
        for name, default in _ast_defaults(node)
        if isinstance(default, ast.Call)
    }


def _check_signature_kind(param: inspect.Parameter) -> None:
    problems = {
        param.VAR_POSITIONAL: f"input *{param.name}: *args is not supported",
        param.VAR_KEYWORD: f"input **{param.name}: **kwargs is not supported",
        param.KEYWORD_ONLY: f"input {param.name}: keyword-only parameters are not supported",
        param.POSITIONAL_ONLY: f"input {param.name}: positional-only parameters are not supported",
    }
    if param.kind in problems:
        raise PredictorError(problems[param.kind])


def _check_constraints(name: str, t: _Type, info: FieldInfo, tp: Any) -> None:
    def fail(problem: str) -> None:
        raise PredictorError(f"input {name}: {problem}")

    ranged = info.ge is not None or info.le is not None
    sized = info.min_length is not None or info.max_length is not None
    # On a List, a constraint applies to each element (cog 0.23's rule).
    if ranged and t.kind not in ("int", "float"):
        fail(f"ge/le need an int or float input, not {_type_name(tp)}")
    if sized and t.kind != "str":
        fail(f"min_length/max_length need a str input, not {_type_name(tp)}")
    if info.regex is not None:
        if t.kind != "str":
            fail(f"regex needs a str input, not {_type_name(tp)}")
        try:
            re.compile(info.regex)
        except re.error as exc:
            fail(f"invalid regex {info.regex!r}: {exc}")
    if info.accept is not None and t.kind != "path":
        fail(f"accept needs a cog.Path or cog.File input, not {_type_name(tp)}")
    if info.choices is None:
        return
    # The legacy schema can only express choices on a plain str or int.
    if t.kind not in ("str", "int") or t.is_list or t.optional:
        fail(f"choices need a str or int input, not {_type_name(tp)}")
    if len(info.choices) < 2:
        fail(f"choices must have at least 2 values, got {info.choices!r}")
    expected = str if t.kind == "str" else int
    if not all(type(c) is expected for c in info.choices):
        fail(f"choices must all be {expected.__name__}, got {info.choices!r}")
    if ranged or sized or info.regex is not None:
        fail("choices cannot be combined with ge/le, min_length/max_length or regex")
    if name in RESERVED_COMPONENTS:
        fail(f"an input with choices cannot be named {name!r}: the schema needs that name")


def _resolve_default(param: inspect.Parameter, explicit: dict[str, bool] | None) -> tuple[FieldInfo, bool]:
    """The parameter's FieldInfo, and whether it has a default in the legacy generator's eyes."""
    raw = param.default
    if raw is inspect.Parameter.empty:
        return FieldInfo(), False
    if not isinstance(raw, FieldInfo):
        return FieldInfo(default=raw), True
    if isinstance(raw.default, dataclasses.Field):  # Input(default=field(...))
        if raw.default.default_factory is not dataclasses.MISSING:
            raise PredictorError(f"input {param.name}: default_factory is not supported; use a literal default")
        raw = dataclasses.replace(raw, default=raw.default.default)
    # Unknown source: treat Input() with no default as required, as cog 0.23 does.
    return raw, raw.default is not None or bool(explicit and explicit.get(param.name))


def input_components(
    fn: Any, params: list[inspect.Parameter], hints: dict[str, Any], *, component: str = "Input"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``Input`` component (``TrainingInput`` for train()) plus one enum component per
    choices input, and the defaults to vet."""
    explicit = _explicit_defaults(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    enums: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    any_without_default = False
    for order, param in enumerate(params):
        name = param.name
        _check_signature_kind(param)
        if name not in hints:
            raise PredictorError(f"input {name}: missing type annotation")
        t = _parse(hints[name])
        if t is None or t.kind == "any":
            raise PredictorError(f"input {name}: unsupported type {_type_name(hints[name])}; use {_SUPPORTED_INPUTS}")
        info, has_default = _resolve_default(param, explicit)
        _check_constraints(name, t, info, hints[name])
        default = _jsonable(info.default)
        try:
            json.dumps(default)
        except (TypeError, ValueError):
            raise PredictorError(f"input {name}: default {default!r} is not JSON-serializable") from None
        if default is not None:
            defaults[name] = default
        any_without_default |= not has_default
        if not has_default and not t.optional:
            required.append(name)
        properties[name] = _input_property(name, t, info, default, order, inline_ref=component != "Input")
        if info.choices is not None:
            enums[name] = {
                "type": _HEADS[t.kind]["type"],
                "enum": list(info.choices),
                "title": name,
                "description": "An enumeration.",
            }
    schema: dict[str, Any] = {"properties": properties, "type": "object"}
    if any_without_default:  # pydantic keeps the list, even emptied of Optionals
        schema["required"] = required
    schema["title"] = component
    return {component: schema, **enums}, defaults


def _input_property(
    name: str, t: _Type, info: FieldInfo, default: Any, order: int, *, inline_ref: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {} if info.choices is not None else {"title": _title(name)}
    if info.description is not None:
        meta["description"] = info.description
    if default is not None:
        meta["default"] = default
    if info.deprecated:
        meta["deprecated"] = True
    if info.accept is not None:
        meta["x-cog-accept"] = info.accept
    if info.choices is not None:
        ref = f"#/components/schemas/{name}"
        # cog 0.16.12 rewrites pydantic's `$ref` beside keywords into `allOf` in Input alone
        # (helpers._restore_allof_for_prediction_id_put): TrainingInput keeps the `$ref`.
        if inline_ref:
            return {"$ref": ref, **meta, "x-order": order}
        return {**meta, "x-order": order, "allOf": [{"$ref": ref}]}
    constraints: dict[str, Any] = {}
    if info.le is not None:
        constraints["maximum"] = float(info.le)
    if info.ge is not None:
        constraints["minimum"] = float(info.ge)
    if info.max_length is not None:
        constraints["maxLength"] = info.max_length
    if info.min_length is not None:
        constraints["minLength"] = info.min_length
    if info.regex is not None:
        constraints["pattern"] = info.regex
    return _field_schema(t, meta, constraints, order)


# ---------------------------------------------------------------- outputs


def output_components(method: str, tp: Any) -> dict[str, Any]:
    """The ``Output`` component, plus the model it refers to when the model is not named Output."""
    if tp is None or tp is type(None):
        raise PredictorError(f"{method}() must have a return type annotation")
    origin = typing.get_origin(tp)
    if tp in _CONCATENATE or origin in _CONCATENATE:
        if typing.get_args(tp) != (str,):
            raise PredictorError(f"output {_type_name(tp)}: a ConcatenateIterator must yield str")
        return {
            "Output": {
                "items": {"type": "string"},
                "type": "array",
                "title": "Output",
                "x-cog-array-display": "concatenate",
                "x-cog-array-type": "iterator",
            }
        }
    if origin in (Iterator, AsyncIterator):
        element = _parse(typing.get_args(tp)[0]) if typing.get_args(tp) else None
        if element is None or element.is_list or element.optional or element.kind == "union":
            raise PredictorError(
                f"output {_type_name(tp)}: an iterator must yield a single value type such as str or Path"
            )
        items = {**_HEADS[element.kind], **_TAILS.get(element.kind, {})}
        return {"Output": {"items": items, "type": "array", "title": "Output", "x-cog-array-type": "iterator"}}
    if _is_model(tp):
        return _model_components(tp)
    t = _parse(tp)
    # A union output is refused: cog 0.23's SDK would describe it as a bare object.
    if t is None or t.kind == "union":
        raise PredictorError(f"output: unsupported type {_type_name(tp)}; use {_SUPPORTED_OUTPUTS}")
    if t.optional:
        raise PredictorError(f"output {_type_name(tp)}: the output must not be Optional")
    if t.is_list:
        items = {**_HEADS[t.kind], **_TAILS.get(t.kind, {})}
        return {"Output": {"items": items, "type": "array", "title": "Output"}}
    return {"Output": {**_HEADS[t.kind], "title": "Output", **_TAILS.get(t.kind, {})}}


class _PydanticField(typing.Protocol):
    """What `_model_defaults` reads of a pydantic FieldInfo (pydantic is not imported here)."""

    default: Any
    default_factory: Any

    def is_required(self) -> bool: ...


class _PydanticModelClass(typing.Protocol):
    """A pydantic model class, as far as `_model_defaults` looks at it."""

    model_fields: Mapping[str, _PydanticField]


def _model_defaults(cls: type) -> dict[str, tuple[bool, Any]]:
    """field name -> (has a default, the default or None); cog's dataclass models or pydantic's."""
    if dataclasses.is_dataclass(cls):
        return {
            f.name: (
                f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
                None if f.default is dataclasses.MISSING else f.default,
            )
            for f in dataclasses.fields(cls)
        }
    return {
        name: (not info.is_required(), None if info.default_factory else info.default)
        for name, info in typing.cast(_PydanticModelClass, cls).model_fields.items()
    }


def _is_model(tp: Any) -> bool:
    return inspect.isclass(tp) and (issubclass(tp, cog.BaseModel) or hasattr(tp, "model_fields"))


def training_output_components(tp: Any) -> dict[str, Any]:
    """The ``TrainingOutput`` component of a train() that returns ``tp``, as cog 0.16.12 names it
    (``get_training_output_type``): a model named TrainingOutput as it is, one named Output
    copied under that name, anything else wrapped (a root model: a Path inlined, another model
    by $ref). Hearth makes a version from the trained weights, so train() must return them: a
    cog.Path, or a model with a ``weights`` Path field (Cog's ``TrainingOutput(weights=...)``)."""
    if _is_model(tp):
        weights = type_hints(tp).get("weights")
        if "weights" not in _model_defaults(tp) or (t := _parse(weights)) is None or t.kind != "path" or t.is_list:
            raise PredictorError(
                f"train() returns {tp.__name__}, which has no `weights: Path` field: the trained weights "
                "become a new version, so train() must return a cog.Path or a model with a weights Path field"
            )
        return _model_components(tp, component="TrainingOutput")
    t = _parse(tp) if tp is not None else None
    if t is None or t.kind != "path" or t.is_list or t.optional:
        raise PredictorError(
            f"train() must return a cog.Path or a model with a `weights: Path` field (such as Cog's "
            f"TrainingOutput), not {_type_name(tp)}: the trained weights become a new version"
        )
    return {"TrainingOutput": {**_HEADS["path"], "title": "TrainingOutput"}}


def _model_components(cls: type, *, component: str = "Output") -> dict[str, Any]:
    hints = type_hints(cls)
    fields = _model_defaults(cls)
    properties: dict[str, Any] = {}
    required = []
    for name, (has_default, default) in fields.items():
        t = _parse(hints.get(name))
        if t is None or t.kind == "union":
            raise PredictorError(f"output field {cls.__name__}.{name}: unsupported type {_type_name(hints.get(name))}")
        meta: dict[str, Any] = {"title": _title(name)}
        if default is not None and has_default:
            meta["default"] = _jsonable(default)
        properties[name] = _field_schema(t, meta, {})
        if not has_default and not t.optional:
            required.append(name)
    schema: dict[str, Any] = {"properties": properties, "type": "object"}
    if not all(has_default for has_default, _ in fields.values()):
        schema["required"] = required
    # The legacy generator inlines a model named Output (or TrainingOutput) as Output, and one
    # named TrainingOutput (or Output) as TrainingOutput; it refers to any other model by $ref.
    if cls.__name__ in ("Output", "TrainingOutput"):
        return {component: {**schema, "title": component}}
    if cls.__name__ in RESERVED_COMPONENTS:
        raise PredictorError(f"output model {cls.__name__}: rename it, the schema needs that name")
    return {
        component: {"$ref": f"#/components/schemas/{cls.__name__}"},
        cls.__name__: {**schema, "title": cls.__name__},
    }

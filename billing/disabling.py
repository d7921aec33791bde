"""Operator stops on models and versions (`DisabledModel`, `DisabledVersion`).

A disabled model or version refuses new predictions; predictions already queued or running
finish normally. Callers on the hot path load the `disabled` relations with `select_related`
(the model and version caches keep them for MODEL_CACHE_SECONDS), so the check adds no query there.
"""

from django.core.exceptions import ObjectDoesNotExist

from hosting.problems import ApiProblem


def _stop(obj):
    try:
        return obj.disabled
    except ObjectDoesNotExist:
        return None


def refuse_if_disabled(*, version) -> None:
    """Raise a 409 problem if the version or its model has been disabled by staff."""
    name = version.model.full_name
    for obj, what in ((version.model, f"The model {name}"), (version, f"This version of {name}")):
        stop = _stop(obj)
        if stop is not None:
            reason = f" Reason: {stop.reason}" if stop.reason else ""
            raise ApiProblem(
                409,
                "Model disabled",
                f"{what} has been disabled by the operators and takes no new predictions.{reason}",
            )

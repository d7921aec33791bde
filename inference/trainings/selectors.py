"""Reads of trainings, scoped to the account that made them: anyone else's is a 404."""

from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import Account
from hosting.ids import is_public_id
from hosting.problems import NotFound
from inference.models import Model, Prediction, Version

_JOINS = ("model__owner", "version", "destination__owner", "trained_version__model__owner")


def _trainings(*, account: Account) -> QuerySet[Prediction]:
    return Prediction.objects.filter(account=account, kind=Prediction.Kind.TRAINING)


def training_get(*, account: Account, training_id: str) -> Prediction:
    training = (
        _trainings(account=account).select_related(*_JOINS).filter(id=training_id).first()
        if is_public_id(training_id)
        else None
    )
    if training is None:
        raise NotFound("The requested training does not exist.")
    return training


def training_list(*, account: Account) -> QuerySet[Prediction]:
    """Newest first, with a unique tiebreaker so cursor pages never skip or repeat a row."""
    return _trainings(account=account).select_related(*_JOINS).order_by("-created_at", "-id")


def destination_get(*, account: Account, owner: str, name: str) -> Model:
    """A model the account owns, which a training may add a version to. Anyone else's model,
    public or not, is a 404 like a missing one, in the words of Replicate's answer."""
    model = Model.objects.select_related("owner", "hardware").filter(owner=account, owner__username=owner, name=name)
    destination = model.first()
    if destination is None:
        raise NotFound("The specified training destination does not exist")
    return destination


def destinations(*, account: Account) -> QuerySet[Model]:
    """The models a training of the account may add a version to: its own, by name."""
    return Model.objects.filter(owner=account).select_related("owner").order_by("name")


def trainings_that_made(*, account: Account, versions: Iterable[Version]) -> dict[int, Prediction]:
    """version pk -> the account's training that made it (the first, if several made the same
    one), among `versions`; a training of anyone else's is not named."""
    made: dict[int, Prediction] = {}
    for training in _trainings(account=account).filter(trained_version__in=list(versions)).order_by("-created_at"):
        assert training.trained_version_id is not None  # filtered on it
        made[training.trained_version_id] = training
    return made

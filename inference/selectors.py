"""Reads, always scoped to what the calling account may see: another tenant's private
object is indistinguishable from a missing one."""

from django.db.models import Q, QuerySet

from accounts.models import Account
from hosting.problems import NotFound
from inference.models import Model, Prediction, Version


def _visible_models(*, account: Account) -> QuerySet[Model]:
    return Model.objects.filter(Q(visibility=Model.Visibility.PUBLIC) | Q(owner=account))


def model_get(*, account: Account, owner: str, name: str) -> Model:
    model = (
        _visible_models(account=account)
        .select_related("owner", "hardware", "latest_version")
        .filter(owner__username=owner, name=name)
        .first()
    )
    if model is None:
        raise NotFound("The requested model does not exist (or you don't have permission to see it).")
    return model


def version_list(*, model: Model) -> QuerySet[Version]:
    return model.versions.all()


def version_get(*, model: Model, version_id: str) -> Version:
    version = model.versions.filter(sha256=version_id).first()
    if version is None:
        raise NotFound("The requested version does not exist (or you don't have permission to see it).")
    return version


def version_get_by_id(*, account: Account, version_id: str, model_ref: str | None = None) -> Version | None:
    """A version by its id among the models the account may use.

    A version id is the hash of the package, so identical packages pushed to two models share
    it. `model_ref` ("owner/name") picks one; otherwise the account's own model comes first,
    then the model that had it first.
    """
    candidates = (
        Version.objects.select_related("model__owner", "model__hardware")
        .filter(sha256=version_id)
        .filter(Q(model__visibility=Model.Visibility.PUBLIC) | Q(model__owner=account))
        .order_by("created_at", "pk")
    )
    if model_ref:
        owner, _, name = model_ref.partition("/")
        candidates = candidates.filter(model__owner__username=owner, model__name=name)
    return min(candidates, key=lambda v: v.model.owner_id != account.pk, default=None)


def prediction_get(*, account: Account, prediction_id: str) -> Prediction:
    prediction = (
        Prediction.objects.select_related("model__owner", "version")
        .filter(account=account, id=prediction_id)
        .first()
    )
    if prediction is None:
        raise NotFound("The requested prediction does not exist.")
    return prediction


def prediction_list(*, account: Account) -> QuerySet[Prediction]:
    """Newest first, with a unique tiebreaker so cursor pages never skip or repeat a row."""
    return (
        Prediction.objects.select_related("model__owner", "version")
        .filter(account=account)
        .order_by("-created_at", "-id")
    )

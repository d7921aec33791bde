"""Reads, always scoped to what the calling account may see: another tenant's private
object is indistinguishable from a missing one."""

from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import Account
from hosting.expiring_cache import ExpiringCache
from hosting.ids import is_public_id
from hosting.problems import NotFound
from inference.models import Collection, File, Model, Prediction, Version


def _visible_models(*, account: Account | None) -> QuerySet[Model]:
    """None: a visitor who is not signed in, who sees public models only."""
    return Model.objects.filter(Q(visibility=Model.Visibility.PUBLIC) | Q(owner=account))


def _may_run(model: Model, *, account: Account) -> bool:
    """`_visible_models` for a model already loaded (from a cache, say)."""
    return model.visibility == Model.Visibility.PUBLIC or model.owner_id == account.pk


def model_get(*, account: Account | None, owner: str, name: str) -> Model:
    model = (
        _visible_models(account=account)
        .select_related("owner", "hardware", "latest_version", "default_example__version")
        .filter(owner__username=owner, name=name)
        .first()
    )
    if model is None:
        raise NotFound("The requested model does not exist (or you don't have permission to see it).")
    return model


# owner/name -> model or None. Saves the model query on the create hot path; a new latest
# version, or a visibility change, reaches each web process within MODEL_CACHE_SECONDS.
# The visibility check itself runs on every request.
_models_to_run: ExpiringCache[Model | None] = ExpiringCache(seconds=lambda: settings.MODEL_CACHE_SECONDS)


def model_to_run(*, account: Account, owner: str, name: str) -> Model:
    """Like `model_get`, for creating predictions: briefly cached per process."""
    model = _models_to_run.get_or_load(
        (owner, name),
        # The `disabled` stops ride along so the create path checks them without a query.
        lambda: (
            Model.objects.select_related("owner", "hardware", "latest_version__disabled", "disabled")
            .filter(owner__username=owner, name=name)
            .first()
        ),
    )
    if model is None or not _may_run(model, account=account):
        raise NotFound("The requested model does not exist (or you don't have permission to see it).")
    return model


def version_list(*, model: Model) -> QuerySet[Version]:
    return model.versions.all()


def version_get(*, model: Model, version_id: str) -> Version:
    version = model.versions.filter(sha256=version_id).first()
    if version is None:
        raise NotFound("The requested version does not exist (or you don't have permission to see it).")
    return version


# (version id, "owner/name" or None) -> every version with that id, of any model. Cached like
# `_models_to_run`; which of them the caller may use is decided on every request.
_versions_by_id: ExpiringCache[list[Version]] = ExpiringCache(seconds=lambda: settings.MODEL_CACHE_SECONDS)


def version_get_by_id(*, account: Account, version_id: str, model_ref: str | None = None) -> Version | None:
    """A version by its id among the models the account may use.

    A version id is the hash of the package, so identical packages pushed to two models share
    it. `model_ref` ("owner/name") picks one; otherwise the account's own model comes first,
    then the model that had it first.
    """

    def load() -> list[Version]:
        candidates = (
            Version.objects.select_related("model__owner", "model__hardware", "model__disabled", "disabled")
            .filter(sha256=version_id)
            .order_by("created_at", "pk")
        )
        if model_ref:
            owner, _, name = model_ref.partition("/")
            candidates = candidates.filter(model__owner__username=owner, model__name=name)
        return list(candidates)

    usable = [
        version
        for version in _versions_by_id.get_or_load((version_id, model_ref), load)
        if _may_run(version.model, account=account)
    ]
    return min(usable, key=lambda v: v.model.owner_id != account.pk, default=None)


def _predictions(*, account: Account) -> QuerySet[Prediction]:
    return Prediction.objects.filter(account=account)


def prediction_get(*, account: Account, prediction_id: str) -> Prediction:
    prediction = (
        _predictions(account=account)
        .select_related("model__owner", "version", "deployment__owner")
        .filter(id=prediction_id)
        .first()
        if is_public_id(prediction_id)
        else None
    )
    if prediction is None:
        raise NotFound("The requested prediction does not exist.")
    return prediction


async def aprediction_get(*, account: Account, prediction_id: str) -> Prediction:
    """`prediction_get` for async views (the SSE stream), without the joins they do not need."""
    prediction = (
        await _predictions(account=account).filter(id=prediction_id).afirst() if is_public_id(prediction_id) else None
    )
    if prediction is None:
        raise NotFound("The requested prediction does not exist.")
    return prediction


def prediction_list(*, account: Account) -> QuerySet[Prediction]:
    """Newest first, with a unique tiebreaker so cursor pages never skip or repeat a row.
    Trainings are listed apart (inference.trainings.selectors), though each is readable by id."""
    return (
        _predictions(account=account)
        .filter(kind=Prediction.Kind.PREDICTION)
        .select_related("model__owner", "version", "deployment__owner")
        .order_by("-created_at", "-id")
    )


def _uploads(*, account: Account) -> QuerySet[File]:
    return File.objects.filter(account=account, kind=File.Kind.UPLOAD)


def file_get(*, account: Account, file_id: str) -> File:
    """One of the account's uploads; anyone else's is a 404 like a missing one."""
    file = _uploads(account=account).filter(pk=file_id).first() if is_public_id(file_id) else None
    if file is None:
        raise NotFound("File not found")
    return file


def file_list(*, account: Account) -> QuerySet[File]:
    return _uploads(account=account).order_by("-created_at", "-id")


def _matching(models: QuerySet[Model], query: str) -> QuerySet[Model]:
    """Models whose owner/name holds every word of `query` ("owner/name" words match each half)."""
    for word in query.split():
        owner, slash, name = word.partition("/")
        if slash:
            models = models.filter(owner__username__icontains=owner, name__icontains=name)
        else:
            models = models.filter(Q(name__icontains=word) | Q(owner__username__icontains=word))
    return models


def model_catalogue(*, account: Account, query: str = "") -> QuerySet[Model]:
    """Public models and the account's own, matching `query` in owner/name, most run first."""
    models = _matching(_visible_models(account=account).select_related("owner", "latest_version"), query)
    return models.order_by("-run_count", "owner__username", "name")


def model_list(*, account: Account, query: str = "") -> QuerySet[Model]:
    """`model_catalogue` for GET and QUERY /v1/models: the same models, newest first with a
    unique tiebreaker, the order cursor pages need (a run count changes between pages)."""
    models = _visible_models(account=account).select_related(
        "owner", "hardware", "latest_version", "default_example__version"
    )
    return _matching(models, query).order_by("-created_at", "-pk")


def prediction_history(*, account: Account, status: str = "", model: str = "") -> QuerySet[Prediction]:
    """The account's predictions, newest first, optionally of one status and/or one model."""
    predictions = prediction_list(account=account)
    if status:
        predictions = predictions.filter(status=status)
    if model:
        owner, _, name = model.partition("/")
        predictions = predictions.filter(model__owner__username=owner, model__name=name)
    return predictions


def collection_list() -> QuerySet[Collection]:
    """Every collection (they are curated by operators and public), newest first with a unique
    tiebreaker for cursor pages."""
    return Collection.objects.order_by("-created_at", "-pk")


def collection_get(*, slug: str) -> Collection:
    collection = Collection.objects.filter(slug=slug).first()
    if collection is None:
        raise NotFound("The requested collection does not exist.")
    return collection


def collection_models(*, account: Account, collection: Collection) -> QuerySet[Model]:
    """The collection's models that `account` may see: public ones and its own."""
    return (
        _visible_models(account=account)
        .filter(collections=collection)
        .select_related("owner", "hardware", "latest_version", "default_example__version")
        .order_by("owner__username", "name")
    )


def collection_search(*, query: str) -> QuerySet[Collection]:
    """Collections whose name, slug or description holds every word of `query`."""
    collections = collection_list()
    for word in query.split():
        collections = collections.filter(
            Q(name__icontains=word) | Q(slug__icontains=word) | Q(description__icontains=word)
        )
    return collections

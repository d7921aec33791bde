"""The unmodified `replicate` client's `collections` namespace against the real platform."""

import pytest
from replicate.exceptions import ReplicateError

from inference.models import Collection, Model

pytestmark = pytest.mark.e2e


@pytest.fixture
def showcase(platform, django_db_blocker):
    """A collection of alice's public-echo and private echo."""
    with django_db_blocker.unblock():
        collection = Collection.objects.create(name="Showcase", slug="showcase", description="Echoes, mostly")
        collection.models.set(Model.objects.filter(owner__username="alice", name__in=["public-echo", "echo"]))
    yield collection
    with django_db_blocker.unblock():
        collection.delete()


def test_list_and_get_through_the_python_client(platform, showcase):
    client = platform.client()
    page = client.collections.list()
    listed = {c.slug: c for c in page.results}
    assert listed["showcase"].name == "Showcase" and listed["showcase"].description == "Echoes, mostly"
    assert listed["showcase"].models is None

    mine = client.collections.get("showcase")
    assert (mine.slug, mine.name, len(mine)) == ("showcase", "Showcase", 2)
    assert {m.id for m in mine} == {"alice/echo", "alice/public-echo"}
    echo = next(m for m in mine if m.name == "echo")
    assert echo.latest_version is not None and echo.latest_version.id == platform.versions["echo"]

    theirs = platform.client(platform.bob).collections.get("showcase")
    assert [m.id for m in theirs] == ["alice/public-echo"]  # alice's private echo is not bob's to see


def test_an_unknown_collection_is_a_404(platform):
    with pytest.raises(ReplicateError) as raised:
        platform.client().collections.get("no-such-collection")
    assert raised.value.status == 404

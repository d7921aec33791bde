"""A prediction's logs, as the client reads them once it has finished."""

import pytest

pytestmark = pytest.mark.e2e


def test_logs_saved_while_running_are_not_repeated_in_the_final_logs(platform):
    # Longer than the worker's progress save interval (0.5 s), so the logs are saved mid-run.
    prediction = platform.client().predictions.create(version=platform.versions["sleeper"], input={"seconds": 1.5})
    prediction.wait()

    assert prediction.status == "succeeded"
    assert prediction.logs == "sleeping\n"

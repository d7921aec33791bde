"""Cancel requests travel from any web process to whichever worker runs the prediction.

A flag key survives until the worker looks (it checks after claiming, closing the race with
a request that arrives between claim and subscription); the pub/sub message reaches a
worker that is already running the prediction at once.
"""

from hosting.redis_clients import sync_client

CANCEL_CHANNEL = "hearth:cancel"
_FLAG_SECONDS = 24 * 60 * 60


def _flag_key(prediction_id: str) -> str:
    return f"hearth:cancel:{prediction_id}"


def request_cancel(prediction_id: str) -> None:
    pipe = sync_client().pipeline(transaction=False)
    pipe.set(_flag_key(prediction_id), "1", ex=_FLAG_SECONDS)
    pipe.publish(CANCEL_CHANNEL, prediction_id)
    pipe.execute()


def is_cancel_requested(prediction_id: str) -> bool:
    return bool(sync_client().exists(_flag_key(prediction_id)))

"""The hard spending limit while a prediction runs (the rules: billing/services.py).

A prediction of an account with a spending limit or prepaid credit starts with a reservation
(`Prediction.reserved_seconds`). A guard thread grows it a step before it runs out; when the
account cannot cover the next step, the guard lets the prediction run to the end of what it
holds, then stops it through the runner's cancel, and the worker fails it with the reason.
"""

import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, connection

from billing.services import reservation_extend
from inference.models import Prediction

logger = logging.getLogger(__name__)

# Grow the reservation this long before it runs out (or at half of it, if that is sooner).
EXTEND_LEAD_SECONDS = 10.0
# After a failed attempt to grow it (the database unreachable, its connection dropped), try
# again this soon, on another connection: a blip must not use up what the reservation has left.
# At 1 s a try, a prediction holding 2 s was stopped although the database answered between
# the terminations of its connections (tests/chaos).
RETRY_SECONDS = 0.2
# The longest `stop` waits for a step in progress (the pool's own connection timeout is 10 s).
STOP_TIMEOUT_SECONDS = 15.0


class SpendingGuard:
    def __init__(self, prediction: Prediction, runner: Any) -> None:
        self._prediction = prediction
        self._runner = runner
        self._started = time.monotonic()  # as the run's own clock starts: predict_time is shorter
        self._done = threading.Event()
        self.stopped_because: str | None = None  # set when it stopped the prediction
        self._thread = threading.Thread(target=self._guard, name=f"spending-{prediction.id}", daemon=True)
        self._thread.start()

    @classmethod
    def start_for(cls, prediction: Prediction, runner: Any) -> "SpendingGuard | None":
        """A guard for a prediction that holds a reservation; None for one whose account has
        neither a limit nor credit (nothing to guard)."""
        if prediction.reserved_seconds is None:
            return None
        return cls(prediction, runner)

    def stop(self) -> None:
        """Stop guarding, once any step being taken now is committed. The prediction's final
        write must not run beside one: they lock the account and the prediction in opposite
        orders, and PostgreSQL broke the deadlock by aborting one of them (tests/chaos, where a
        step fell due as the predictions ended)."""
        self._done.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=STOP_TIMEOUT_SECONDS)

    def _elapsed(self) -> float:
        return time.monotonic() - self._started

    def _reserved(self) -> int:
        return self._prediction.reserved_seconds or 0  # set: start_for guards only those

    def _guard(self) -> None:
        try:
            reason = self._grow_while_covered()
            if reason is None:
                return
            # Run to the end of what it holds: that much is paid for.
            if self._done.wait(max(0.0, self._reserved() - self._elapsed())):
                return
            self.stopped_because = reason
            logger.info("prediction %s: %s", self._prediction.id, reason)
            self._runner.cancel(self._prediction.id)
        finally:
            connection.close()  # this thread's own connection

    def _grow_while_covered(self) -> str | None:
        """Grow the reservation before each time it would run out; the reason it could not, or
        None once the prediction is over."""
        while True:
            reserved = self._reserved()
            lead = min(EXTEND_LEAD_SECONDS, reserved / 2)
            if self._done.wait(max(0.0, reserved - lead - self._elapsed())):
                return None
            try:
                reason = reservation_extend(prediction=self._prediction)
            except Exception as exc:
                # Every try of an outage would log a traceback; a database error's says nothing.
                logger.warning(
                    "prediction %s: could not grow its reservation: %r",
                    self._prediction.id,
                    exc,
                    exc_info=not isinstance(exc, DatabaseError),
                )
                connection.close()
                if self._elapsed() >= reserved:
                    return "Stopped: the spending limit could not be checked, and the reserved time ran out."
                if self._done.wait(RETRY_SECONDS):
                    return None
                continue
            if reason is not None:
                return reason

"""Messages between a worker (the parent) and its runner process (the child).

They travel over a socketpair of their own, never over stdout: the model owns stdout and
stderr, and everything it writes there becomes prediction logs. Each message is one JSON
object with a "type", framed by multiprocessing's length prefix. Every message about a
prediction carries its id, so several predictions can be in flight at once later on.

parent -> child
    predict   {id, input, output_dir?}
                                    output_dir: copy returned files there and put their
                                    paths in the output (else they become data: URIs)
    cancel    {id}
    shutdown  {}

child -> parent
    log           {id, text}        id is null for output written outside a prediction:
                                    during setup (these are the setup logs) or between
                                    predictions
    ready         {setup_time}      all setup logs have been sent before it
    setup_failed  {error}           likewise; the traceback is in the setup logs
    output        {id, value}       one per item of an iterator output, as it is produced
    done          {id, iterator, predict_time, metrics, output?}
                                    output is absent when iterator is true (the items went
                                    out as `output` messages)
    failed        {id, error, predict_time, metrics}
    canceled      {id, predict_time, metrics}
                                    metrics: what the predictor recorded with cog's
                                    current_scope().record_metric(), nested at the dots
                                    (`child_metrics`); {} when nothing

All of a prediction's logs and outputs are sent before its done/failed/canceled.
"""

import json
import threading
from multiprocessing.connection import Connection
from typing import Any

PREDICT = "predict"
CANCEL = "cancel"
SHUTDOWN = "shutdown"

LOG = "log"
READY = "ready"
SETUP_FAILED = "setup_failed"
OUTPUT = "output"
DONE = "done"
FAILED = "failed"
CANCELED = "canceled"


class Channel:
    """One end of the socketpair.

    Sends take a lock because each side writes from two threads (the parent: the predicting
    thread and whoever cancels; the child: the log pump and the main thread), and an
    interleaved frame would corrupt the stream. Receiving is left to a single thread.
    """

    def __init__(self, fd: int) -> None:
        self._conn = Connection(fd)
        self._send_lock = threading.Lock()

    def send(self, type_: str, **fields: Any) -> None:
        data = json.dumps({"type": type_, **fields}, separators=(",", ":")).encode()
        with self._send_lock:
            self._conn.send_bytes(data)

    def recv(self) -> dict[str, Any]:
        """The next message; EOFError once the other side has gone."""
        return json.loads(self._conn.recv_bytes())

    def poll(self, timeout: float) -> bool:
        return self._conn.poll(timeout)

    def close(self) -> None:
        self._conn.close()

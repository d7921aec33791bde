"""The runner child's log capture: everything a predictor prints reaches the parent as `log`
messages tagged with the prediction it belongs to (see the module docstring of `child`).

Like `child`, this runs inside the model's own environment: the standard library and the
runtime's protocol only.
"""

import codecs
import contextvars
import io
import os
import sys
import threading
from typing import Any, TextIO

from inference.runtime import protocol
from inference.runtime.protocol import Channel

# The prediction whose task is running, when several run at once (see PredictionRoutedStream).
log_owner: contextvars.ContextVar[str | None] = contextvars.ContextVar("hearthlog_owner", default=None)


def send(channel: Channel, type_: str, **fields: Any) -> None:
    try:
        channel.send(type_, **fields)
    except OSError:
        os._exit(1)  # the parent has gone: nobody is left to serve


class LogPump:
    """Routes fds 1 and 2 through one pipe and sends what comes out as `log` messages."""

    def __init__(self, channel: Channel) -> None:
        self.prediction_id: str | None = None
        self._channel = channel
        self._marker = b"\0hearth-log-marker-" + os.urandom(8).hex().encode() + b"\0"
        self._reached = threading.Event()
        self._read_fd, self._marker_fd = os.pipe()
        os.dup2(self._marker_fd, 1)
        os.dup2(self._marker_fd, 2)
        for stream in (sys.stdout, sys.stderr):
            # Line buffering keeps prints to stdout and stderr in the order they were made.
            if isinstance(stream, io.TextIOWrapper):  # as the interpreter made them
                stream.reconfigure(line_buffering=True)
        threading.Thread(target=self._pump, name="log-pump", daemon=True).start()

    def flush(self) -> None:
        """Return once everything written to stdout/stderr so far has been sent.

        The marker goes through the same pipe, so when the pump reaches it every earlier
        write, whoever made it, is already out. It is written through a descriptor of our
        own because the model may have pointed fds 1 and 2 elsewhere for a while (as
        cog.suppress_output does).
        """
        sys.stdout.flush()
        sys.stderr.flush()
        self._reached.clear()
        os.write(self._marker_fd, self._marker)
        self._reached.wait()

    def _pump(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        pending = b""
        while chunk := os.read(self._read_fd, 65536):
            pending += chunk
            while (at := pending.find(self._marker)) >= 0:
                self._send(decoder.decode(pending[:at]))
                pending = pending[at + len(self._marker) :]
                self._reached.set()
            # A read may end inside a marker: hold back what could be its beginning.
            start = pending.rfind(b"\0", max(0, len(pending) - len(self._marker) + 1))
            cut = start if start >= 0 and self._marker.startswith(pending[start:]) else len(pending)
            self._send(decoder.decode(pending[:cut]))
            pending = pending[cut:]

    def _send(self, text: str) -> None:
        if text:
            send(self._channel, protocol.LOG, id=self.prediction_id, text=text)


class PredictionRoutedStream(io.TextIOBase):
    """sys.stdout / sys.stderr while predictions run concurrently: text written by a
    prediction's task goes out at once as that prediction's log; anything else (setup, the
    loop itself) goes down the pipe as before. Writes from C code bypass Python and still
    reach the pipe; with several predictions running they cannot be attributed and go out
    untagged."""

    def __init__(self, channel: Channel, fallback: TextIO) -> None:
        self._channel = channel
        self._fallback = fallback

    def write(self, text: str) -> int:
        owner = log_owner.get()
        if owner is None:
            return self._fallback.write(text)
        if text:
            send(self._channel, protocol.LOG, id=owner, text=text)
        return len(text)

    def flush(self) -> None:
        self._fallback.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    # typeshed declares TextIOBase.encoding a plain attribute; it is a read-only property.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._fallback.encoding

    def fileno(self) -> int:
        return self._fallback.fileno()

    @property
    def buffer(self) -> Any:
        return self._fallback.buffer

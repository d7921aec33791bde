"""A throwaway HTTP server on 127.0.0.1 for tests that need something "on the internet"."""

import contextlib
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and answers 404 in one call."""

    def not_found(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free port in a thread; yields the base URL, stops on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


class FileHost:
    """What a `file_host` serves: `files` (path -> bytes, changeable while it runs; any other
    path is a 404), the paths asked for in `requests`, and its base `url`."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.requests: list[str] = []
        self.url = ""


@contextlib.contextmanager
def file_host(files: dict[str, bytes] | None = None) -> Iterator[FileHost]:
    """A server on 127.0.0.1 answering GET with the bytes of `FileHost.files`."""
    host = FileHost(files)

    class Handler(QuietHandler):
        def do_GET(self) -> None:
            host.requests.append(self.path)
            body = host.files.get(self.path)
            if body is None:
                self.not_found()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as url:
        host.url = url
        yield host


class HostRecorder:
    """A server on 127.0.0.1 that answers every POST with 204 and records its Host header;
    over TLS when given a server `ssl_context` (tests of where outbound requests connect)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.hosts: list[str] = []
        recorder = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                recorder.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.server_port

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

"""Fixtures shared by the tests: the learner answers that self-checks must survive, and a
local HTTP server for the optional downloads (nothing in the tests touches the network)."""

from __future__ import annotations

import collections
import http.server
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest


@pytest.fixture
def stub() -> Callable[..., Any]:
    """A learner's answer that is not written yet."""

    def not_yet(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    return not_yet


@pytest.fixture
def crashing() -> Callable[..., Any]:
    """A learner's answer that crashes inside their own code."""

    def broken(*args: Any, **kwargs: Any) -> Any:
        return 1 / 0

    return broken


@dataclass
class LocalServer:
    """Files served on 127.0.0.1. ``str(server)`` is the base URL; ``hits`` counts requests."""

    url: str
    hits: collections.Counter

    def __str__(self) -> str:
        return self.url


@pytest.fixture
def serve() -> Iterator[Callable[..., LocalServer]]:
    """``serve(files, cut=())`` serves ``files`` (path → bytes) on 127.0.0.1 until the test ends.

    A path in ``cut`` promises its whole body, sends half and hangs up (an interrupted
    download); every other unknown path is a 404.
    """
    servers = []

    def start(files: dict[str, bytes], cut: Iterable[str] = ()) -> LocalServer:
        hits: collections.Counter = collections.Counter()
        cut = set(cut)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                hits[self.path] += 1
                body = files.get(self.path)
                if body is None:
                    self.send_error(404, "Not Found")
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path in cut else body)
                if self.path in cut:
                    self.wfile.flush()
                    self.connection.close()

            def log_message(self, *args: Any) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return LocalServer(f"http://127.0.0.1:{httpd.server_address[1]}", hits)

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()

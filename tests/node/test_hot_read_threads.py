"""Hot reads in a thread pool of their own (exchange/node/server.py, `read_threads`): which requests go there, which
nodes give them one, and, under a real server over TLS, that they are answered while every other thread waits."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
import requests

from exchange.node.server import (POSTGRESQL_READ_THREADS, SQLITE_READ_THREADS, ServerLimits, is_hot_read,
                                 read_threads_for, serve_app)
from exchange.node.tls import self_signed_certificate
from tests.support.node import free_port, served_in_child

GENERAL_THREADS = 2


@pytest.mark.parametrize("method, path, hot", [
    ("GET", "/3/footprints", True),
    ("GET", "/2/footprints", True),
    ("GET", "/3/footprints/3fa85f64-5717-4562-b3fc-2c963f66afa6", True),
    ("GET", "/2/footprints/anything-flask-answers-404-for", True),
    ("POST", "/3/footprints", False),
    ("HEAD", "/3/footprints", False),
    ("GET", "/3/footprints/", False),
    ("GET", "/3/footprints/a/b", False),
    ("GET", "/1/footprints", False),
    ("GET", "/3/events", False),
    ("POST", "/3/events", False),
    ("GET", "/dashboard/footprints", False),
    ("GET", "/health", False),
])
def test_hot_reads_are_the_gets_of_footprint_lists_and_footprints(method, path, hot):
    assert is_hot_read({"method": method, "path": path}) is hot


def test_a_node_reads_in_a_pool_of_its_own_one_thread_on_sqlite_two_on_postgresql():
    assert read_threads_for("sqlite:////var/lib/pcf/node.sqlite") == SQLITE_READ_THREADS == 1
    assert read_threads_for("postgresql://pcf@db/pcf") == POSTGRESQL_READ_THREADS == 2
    assert read_threads_for("postgresql+psycopg://pcf@db/pcf") == 2
    assert 0 < POSTGRESQL_READ_THREADS < ServerLimits().threads


def _thread_reporting_app():
    """A WSGI app that answers with the name of the thread it ran in; POST /3/events waits until a hot read asks
    for /3/footprints/release (so a test can hold every thread of the shared pool)."""
    released = threading.Event()

    def app(environ, start_response):
        path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
        if method == "POST":
            released.wait(30)
        elif path == "/3/footprints/release":
            released.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [threading.current_thread().name.encode()]

    return app


def _serve(port: int, cert: Path, key: Path, read_threads: int) -> None:
    serve_app(_thread_reporting_app, "127.0.0.1", port, cert, key, 1, threads=GENERAL_THREADS,
              read_threads=read_threads)


@pytest.fixture(params=[1, 0], ids=["own pool", "shared pool"])
def server(request, tmp_path):
    cert, key = self_signed_certificate(tmp_path / "tls", host="127.0.0.1")
    port = free_port()
    with served_in_child(_serve, (port, cert, key, request.param), port, str(cert), "the thread-reporting app") as base:
        yield base, str(cert), request.param


def test_hot_reads_run_in_their_own_thread_and_are_answered_while_every_other_thread_waits(server):
    base, ca, read_threads = server
    assert requests.get(f"{base}/health", verify=ca, timeout=5).text.startswith("wsgi")
    list_thread = requests.get(f"{base}/3/footprints?limit=50", verify=ca, timeout=5).text
    get_thread = requests.get(f"{base}/2/footprints/some-id", verify=ca, timeout=5).text
    if not read_threads:  # the shared pool: nothing more to show
        assert list_thread.startswith("wsgi") and get_thread.startswith("wsgi")
        return
    assert list_thread == get_thread == "hot-read_0"
    with ThreadPoolExecutor(GENERAL_THREADS) as writers:
        waiting = [writers.submit(partial(requests.post, f"{base}/3/events", data=b"{}", verify=ca, timeout=40))
                   for _ in range(GENERAL_THREADS)]
        time.sleep(1)  # both writes now hold the two threads of the shared pool
        assert not any(write.done() for write in waiting)
        started = time.monotonic()
        assert requests.get(f"{base}/3/footprints", verify=ca, timeout=5).text == "hot-read_0"
        assert time.monotonic() - started < 1.0
        assert not any(write.done() for write in waiting)  # still waiting: the read did not go through their pool
        requests.get(f"{base}/3/footprints/release", verify=ca, timeout=5)
        assert all(write.result().text.startswith("wsgi") for write in waiting)

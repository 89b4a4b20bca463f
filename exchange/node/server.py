"""Serve the node (or any WSGI app) over HTTPS with Hypercorn: slow or stalled clients cost a coroutine, not a worker.

    serve(config, host, port, cert, key, workers)                     the node, as `pcf serve` runs it
    serve_app(app_factory, host, port, cert, key, workers, **limits)  any WSGI app under the identical set-up

Each worker process runs one asyncio event loop (Hypercorn, on uvloop) that owns every connection: the TLS
handshake, reading the request line and headers, reading the body. Only a complete request reaches the WSGI app, run
in a thread pool of `threads` per process. A client that stalls anywhere holds one coroutine and a bounded buffer
until its timeout closes it, so it cannot block the threads that answer everyone else (the gunicorn gthread set-up
this replaces blocked one thread per stalled TLS handshake: docs/decisions.md).

The event loop is the worker's bottleneck under load (TLS, HTTP parsing and every hand-off run on it, holding the
GIL), so three things keep its work per request small and its pauses short (measured: docs/decisions.md):
  - uvloop, whose transports and TLS are C/Cython (Hypercorn's own `uvloop` worker class does the same);
  - a response is collected in the app's thread and handed to the loop once (`BoundedWSGI`), where Hypercorn's
    adapter made the thread wait on the loop for the status, for each body chunk and for the end;
  - the objects built at start-up are frozen out of the cyclic garbage collector (`gc.freeze`), so a full
    collection walks only what requests allocated since, not the whole imported application each time.

Limits (`ServerLimits`; each a keyword of `serve_app`), all answered with a PACT JSON error body and the node's
security headers, and the connection closed:
  - TLS handshake not done within `handshake_timeout`: the connection is dropped (no HTTP to answer with).
  - request line and headers not complete within `header_timeout` of the connection (or of the previous response
    on a kept-alive connection, whose idle timeout this also is): dropped.
  - request target over `max_request_line` bytes: 414; headers over `max_header_bytes` or `max_headers`: 431.
  - body over `max_body_bytes` (declared or as it arrives): 413, after reading and dropping up to 16 MiB so the
    client sees the answer rather than a reset; body not complete within `body_timeout`, or a pause of more than
    `read_timeout` in it: 408.
  - beyond `hard_header_bytes` of request line plus headers, Hypercorn's HTTP parser (h11) itself answers 431 with
    an empty body and closes; malformed HTTP gets its 400 with an empty body. Those two never reach the code here.
HTTP/1.1 only (ALPN): one request at a time per connection, so these bounds are per connection.

Hot reads (`is_hot_read`: GET of a footprint list or of one footprint, what fast_path.py answers from the store
without writing) can have a thread pool of their own, `read_threads` per worker; 0 (the default) runs them in the
`threads` pool with everything else. The node gives them a pool of their own (`read_threads_for`), so that a write
waiting for a lock (SQLite's, up to its busy timeout) never holds up a read, and so that fewer threads contend for
the GIL. On SQLite, one thread: a SQLite read is CPU work in the worker's own process, and Python's sqlite3 driver
releases the GIL around every step of a statement, so two threads reading at once hand the GIL back and forth and
each read costs about twice as much (in process, a list page took 130 µs alone and 260 µs per page with two
threads reading beside each other; a get 25 µs and 56 µs). One reader per worker, and one worker per core, does the
most reads a second. On PostgreSQL, two: a read waits on the database for part of its time (a round trip, ~0.3 ms
of execution at a million footprints held in memory), so a second one in flight keeps the worker busy meanwhile;
more only contend for the GIL. Two against four gave the shorter p99 in 14 of 18 kind-runs at a million footprints,
and four against the eight of the shared pool before that (docs/decisions.md).

Workers: `workers` processes forked from this one, each with its own listening socket on the address (SO_REUSEPORT:
the kernel spreads connections over them) and its own `app_factory()` app and database connections; with 1 the
server runs in this process.
SIGTERM or SIGINT stop it gracefully; a worker that dies stops the others (as Hypercorn's own runner does).
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import re
import signal
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Callable, Iterator

from hypercorn.app_wrappers import WSGIWrapper
from hypercorn.asyncio import worker_serve
from hypercorn.config import Config, Sockets

try:  # not on Windows, where the default asyncio loop serves (uvloop does not build there)
    import uvloop
except ImportError:  # pragma: no cover - every supported POSIX install has it (pyproject.toml)
    uvloop = None

from .app import NodeConfig, create_app
from .errors import error_body
from .security_headers import SECURITY_HEADERS

DRAIN_CAP = 16 * 1024 * 1024  # an over-long body is read (and dropped) up to this before answering 413


@dataclass(frozen=True)
class ServerLimits:
    """What one connection may take: time at each stage, and bytes of request line, headers and body."""

    handshake_timeout: float = 5.0
    header_timeout: float = 5.0  # connection (or previous response) to complete headers; the keep-alive idle time
    read_timeout: float = 10.0  # longest pause while a body arrives
    body_timeout: float = 30.0  # the whole body: 1 MB at >= 33 kB/s
    max_request_line: int = 8190  # request target bytes (gunicorn's default limit, kept)
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_body_bytes: int = 1_000_000
    hard_header_bytes: int = 65536  # h11's receive buffer for request line + headers: beyond, its own empty 431
    threads: int = 8  # WSGI calls in flight per worker process
    read_threads: int = 0  # hot reads' own pool per worker (is_hot_read); 0: they run in the `threads` pool
    backlog: int = 1024


SQLITE_READ_THREADS = 1  # per worker, for a node on SQLite (module docstring)
POSTGRESQL_READ_THREADS = 2  # per worker, for a node on PostgreSQL (module docstring)
_HOT_READ_PATH = re.compile(r"/[23]/footprints(?:/[^/]+)?")


def is_hot_read(scope: dict) -> bool:
    """A GET of `/3/footprints`, `/2/footprints` or one footprint under them: the API's reads that fast_path.py
    answers from the store (its errors included: Flask answers them in the same thread, without writing)."""
    return scope["method"] == "GET" and _HOT_READ_PATH.fullmatch(scope["path"]) is not None


def read_threads_for(db_url: str) -> int:
    """`read_threads` of a node on `db_url`: one on SQLite, two on PostgreSQL (module docstring)."""
    return SQLITE_READ_THREADS if db_url.startswith("sqlite") else POSTGRESQL_READ_THREADS


def serve(config: NodeConfig, host: str, port: int, cert: Path, key: Path, workers: int = 1) -> None:
    """Run the node until SIGTERM/SIGINT. TLS only: a plain-HTTP request fails its handshake (PACT: HTTPS only)."""
    serve_app(partial(create_app, config), host, port, cert, key, workers, max_body_bytes=config.max_body_bytes,
              read_threads=read_threads_for(config.db_url))


def serve_app(app_factory: Callable[[], Any], host: str, port: int, cert: Path, key: Path, workers: int = 1,
              **limits: Any) -> None:
    """Serve the WSGI app `app_factory()` with the node's exact server configuration (module docstring); `limits`
    override `ServerLimits` fields. The node benchmark serves its trivial baseline app through this too."""
    bounds = ServerLimits(**limits)
    config = _hypercorn_config(host, port, cert, key, workers, bounds)
    sockets = config.create_sockets()  # with several workers only a check that the address can be bound
    try:
        if workers == 1:
            _worker(app_factory, config, sockets, bounds, None)
            return
    finally:
        _close(sockets)
    _supervise(app_factory, config, bounds, workers)


def _close(sockets: Sockets) -> None:
    for sock in sockets.secure_sockets:
        sock.close()


def _hypercorn_config(host: str, port: int, cert: Path, key: Path, workers: int, limits: ServerLimits) -> Config:
    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.certfile, config.keyfile = str(cert), str(key)
    config.alpn_protocols = ["http/1.1"]
    config.workers = workers  # > 1: the socket gets SO_REUSEPORT
    config.backlog = limits.backlog
    config.ssl_handshake_timeout = limits.handshake_timeout
    config.keep_alive_timeout = limits.header_timeout
    config.read_timeout = limits.read_timeout  # type: ignore[assignment]  # a float works (asyncio.wait_for)
    config.h11_max_incomplete_size = limits.hard_header_bytes
    config.wsgi_max_body_size = limits.max_body_bytes
    config.include_server_header = False
    config.accesslog, config.errorlog, config.loglevel = None, "-", "WARNING"
    config.graceful_timeout = 5.0
    return config


def _worker(app_factory: Callable[[], Any], config: Config, sockets: Sockets | None, limits: ServerLimits,
            stop: Any | None) -> None:
    """One event loop serving `app_factory()` on `sockets` until a signal (alone) or `stop` is set (supervised)."""
    if stop is not None:
        for name in ("SIGINT", "SIGTERM"):  # the supervisor decides when workers stop
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    app = BoundedWSGI(_adapted(app_factory()), limits)
    gc.collect()
    gc.freeze()  # the app, its modules and pools live as long as the worker: no full collection need walk them
    trigger = None if stop is None else partial(_stopped, stop, os.getppid())
    own = sockets is None  # a supervised worker listens on its own SO_REUSEPORT socket (_supervise)
    sockets = sockets or config.create_sockets()

    async def main() -> None:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(limits.threads, thread_name_prefix="wsgi"))
        await worker_serve(app, config, sockets=sockets, shutdown_trigger=trigger)

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop if uvloop else None) as runner:
            runner.run(main())
    finally:
        if own:
            _close(sockets)


async def _stopped(stop: Any, parent: int) -> None:
    """Return once the supervisor says stop, or is gone (killed outright: no worker outlives it)."""
    while not stop.is_set() and os.getppid() == parent:
        await asyncio.sleep(0.1)


def _supervise(app_factory: Callable[[], Any], config: Config, limits: ServerLimits, workers: int) -> None:
    """Run `workers` processes; stop them all on SIGTERM/SIGINT or when one exits (as Hypercorn's own runner).

    Each worker binds its own listening socket (SO_REUSEPORT: the kernel spreads new connections over them). One
    socket shared by every worker's event loop let one loop accept a whole burst of connections (asyncio accepts up
    to the backlog at once), so the kept-alive connections of a client could all end up on one worker."""
    context = multiprocessing.get_context("fork")  # like gunicorn: workers start at once with what is imported
    stop = context.Event()
    processes = [context.Process(target=_worker, args=(app_factory, config, None, limits, stop),
                                 name=f"pcf-serve-worker-{number}", daemon=True) for number in range(workers)]
    for process in processes:
        process.start()
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    while not stop.is_set() and all(process.is_alive() for process in processes):
        wait([process.sentinel for process in processes], timeout=0.5)
    stop.set()
    for process in processes:
        process.join(config.graceful_timeout + 2)
        if process.is_alive():
            process.terminate()


def _adapted(app: Callable) -> Callable:
    """`app` as Hypercorn's WSGI adapter needs it: the body is read whole before the app runs, so it may be read to
    its end (chunked requests included: `wsgi.input_terminated`); and the response yields at least one chunk, since
    the adapter starts the response only on the first chunk (an empty 200 or 204 would otherwise be its 500)."""

    def application(environ: dict, start_response: Callable) -> Iterator[bytes]:
        environ["wsgi.input_terminated"] = True
        body = app(environ, start_response)
        try:
            empty = True
            for chunk in body:
                empty = False
                yield chunk
            if empty:
                yield b""
        finally:
            if hasattr(body, "close"):
                body.close()

    return application


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class _Gone(Exception):
    """The client went away before its body was complete: nothing to run, nobody to answer."""


class BoundedWSGI(WSGIWrapper):
    """Hypercorn's WSGI adapter with the request limits in front: refused requests get a PACT JSON error."""

    def __init__(self, app: Callable, limits: ServerLimits) -> None:
        super().__init__(app, limits.max_body_bytes)
        self.limits = limits
        self.reads = ThreadPoolExecutor(limits.read_threads, "hot-read") if limits.read_threads else None

    async def handle_http(self, scope: Any, receive: Callable, send: Callable, sync_spawn: Callable,
                          call_soon: Callable) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.body_timeout
        if self.reads is not None and is_hot_read(scope):
            sync_spawn = partial(loop.run_in_executor, self.reads)
        try:
            self._check_head(scope)
            await super().handle_http(scope, partial(self._receive, receive, deadline, [0]), send,
                                      partial(_collected, sync_spawn, send), call_soon)
        except _Gone:
            return
        except _Refused as refusal:
            if refusal.status == 413:
                await self._drop_body(receive, deadline)
            await _refuse(send, refusal.status, refusal.message)

    def _check_head(self, scope: Any) -> None:
        target = len(scope["raw_path"]) + (len(scope["query_string"]) + 1 if scope["query_string"] else 0)
        if target > self.limits.max_request_line:
            raise _Refused(414, f"request target longer than {self.limits.max_request_line} bytes")
        headers = scope["headers"]
        if len(headers) > self.limits.max_headers or \
                sum(len(name) + len(value) + 4 for name, value in headers) > self.limits.max_header_bytes:
            raise _Refused(431, f"request headers over {self.limits.max_headers} fields or "
                                f"{self.limits.max_header_bytes} bytes")
        for name, value in headers:
            if name == b"content-length" and value.isdigit() and int(value) > self.limits.max_body_bytes:
                raise _Refused(413, f"request body larger than {self.limits.max_body_bytes} bytes")

    async def _receive(self, receive: Callable, deadline: float, seen: list[int]) -> dict:
        """The next body message, or _Refused when the body runs over its size or its time."""
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            message = await asyncio.wait_for(receive(), max(remaining, 0.001))
        except asyncio.TimeoutError:
            raise _Refused(408, f"request body not received within {self.limits.body_timeout:g} s") from None
        if message["type"] == "http.disconnect":
            raise _Gone
        seen[0] += len(message.get("body", b""))
        if seen[0] > self.limits.max_body_bytes:
            raise _Refused(413, f"request body larger than {self.limits.max_body_bytes} bytes")
        return message

    async def _drop_body(self, receive: Callable, deadline: float) -> None:
        dropped = 0
        loop = asyncio.get_running_loop()
        while dropped <= DRAIN_CAP and (remaining := deadline - loop.time()) > 0:
            try:
                message = await asyncio.wait_for(receive(), remaining)
            except asyncio.TimeoutError:
                return
            dropped += len(message.get("body", b""))
            if not message.get("more_body"):
                return


async def _collected(sync_spawn: Callable, send: Callable, run_app: Callable, environ: dict,
                     _thread_send: Callable) -> None:
    """Run Hypercorn's `run_app(environ, send)` in a thread with a `send` that only collects the messages, then send
    them on the loop: one hand-off each way per request. Hypercorn's own `send` for the thread blocks it on the loop
    for each message (status, every body chunk), so a busy loop kept the thread from the next request that long.
    The node's answers are whole bytes objects, so nothing is buffered that was not already in memory."""
    messages: list[dict] = []
    await sync_spawn(run_app, environ, messages.append)
    for message in messages:
        await send(message)


async def _refuse(send: Callable, status: int, message: str) -> None:
    """A PACT error (`BadRequest` with the HTTP status) from the server itself, closing the connection."""
    body = error_body("BadRequest", message)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    headers += [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})

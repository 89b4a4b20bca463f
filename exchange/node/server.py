"""Serve the node over HTTPS with gunicorn: N worker processes, each with its own app and DB connections."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from gunicorn.app.base import BaseApplication

from .app import NodeConfig, create_app


class _WsgiServer(BaseApplication):
    def __init__(self, load: Callable, options: dict) -> None:
        self._load, self.options = load, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self._load()


def serve_app(load: Callable, host: str, port: int, cert: Path, key: Path, workers: int = 1, threads: int = 4) -> None:
    """Run the WSGI app `load()` builds (once per worker process) with the node's exact server configuration, until
    interrupted. The node runs through here, and so does the benchmark's trivial baseline app (bench_node.py), so
    the two compare under one set-up. TLS only: a plain-HTTP request to this port fails its handshake (PACT)."""
    _WsgiServer(load, {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers, "threads": threads, "worker_class": "gthread",
        "certfile": str(cert), "keyfile": str(key),
        "accesslog": None, "errorlog": "-", "loglevel": "warning",
        "limit_request_line": 8190, "timeout": 60, "graceful_timeout": 5,
    }).run()


def serve(config: NodeConfig, host: str, port: int, cert: Path, key: Path, workers: int = 1, threads: int = 4) -> None:
    """Run the node until interrupted (serve_app with the node's app)."""
    serve_app(lambda: create_app(config), host, port, cert, key, workers, threads)

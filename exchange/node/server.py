"""Serve the node over HTTPS with gunicorn: N worker processes, each with its own app and DB connections."""

from __future__ import annotations

from pathlib import Path

from gunicorn.app.base import BaseApplication

from .app import NodeConfig, create_app


class _NodeServer(BaseApplication):
    def __init__(self, config: NodeConfig, options: dict) -> None:
        self.node_config, self.options = config, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return create_app(self.node_config)


def serve(config: NodeConfig, host: str, port: int, cert: Path, key: Path, workers: int = 1, threads: int = 4) -> None:
    """Run until interrupted. TLS only: a plain-HTTP request to this port fails its handshake (PACT: HTTPS only)."""
    _NodeServer(config, {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers, "threads": threads, "worker_class": "gthread",
        "certfile": str(cert), "keyfile": str(key),
        "accesslog": None, "errorlog": "-", "loglevel": "warning",
        "limit_request_line": 8190, "timeout": 60, "graceful_timeout": 5,
    }).run()

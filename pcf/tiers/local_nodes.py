"""Start `pcf serve` nodes as local processes (for the demo and the tests): loopback, self-signed TLS."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RunningNode:
    base: str
    ca: str
    db_url: str
    process: subprocess.Popen

    def token(self, client_id: str, secret: str) -> str:
        response = requests.post(f"{self.base}/auth/token", data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret), verify=self.ca, timeout=10)
        response.raise_for_status()
        return response.json()["access_token"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_for(predicate, timeout: float = 60.0, what: str = "a condition"):
    """Poll `predicate` until it returns something truthy (and return that); TimeoutError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"timed out waiting for {what}")


def answers_health(base: str, ca: str) -> bool:
    """Does the server at `base` (https, its certificate in `ca`) answer `/health` with a 2xx now?"""
    try:
        return requests.get(f"{base}/health", verify=ca, timeout=2).ok
    except requests.RequestException:
        return False


def start_node(data_dir: Path, db_url: str, workers: int = 1, port: int | None = None,
               extra: tuple[str, ...] = ()) -> RunningNode:
    """Start `pcf serve --self-signed` on 127.0.0.1 and wait until it answers over HTTPS."""
    port = port or free_port()
    # Local nodes talk to each other on loopback, which the outbound policy refuses by default: allow it
    # explicitly, for this process (its clients) and the node's (its delivery). docs/security.md.
    allowed = os.environ.get("PCF_OUTBOUND_ALLOW", "")
    if "loopback" not in allowed.lower().split(","):
        os.environ["PCF_OUTBOUND_ALLOW"] = ",".join(part for part in (allowed, "loopback") if part)
    env = {**os.environ, "PCF_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pcf.cli", "serve", "--db", db_url, "--port", str(port), "--self-signed",
         "--workers", str(workers), *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ca = str(data_dir / "tls" / "cert.pem")
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"node exited: {process.stderr.read().decode()[-2000:]}")
        if Path(ca).exists() and answers_health(base, ca):
            return RunningNode(base, ca, db_url, process)
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("node did not start within 30 s")

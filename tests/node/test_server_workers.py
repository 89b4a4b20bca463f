"""`pcf serve --workers 2`: two worker processes answer on one port; SIGTERM stops them, and if the server is killed
outright its workers do not outlive it (they would hold the port)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import requests

from tests.support.node import new_node_db, start_node


def _children(pid: int) -> set[int]:
    listed = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return {int(line.split()[0]) for line in listed.splitlines() if "pcf.cli serve" in line}  # not the deliverer


def _gone(pids: set[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        alive = set()
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.add(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return True
        time.sleep(0.2)
    return False


def _node(tmp_path):
    db_url = new_node_db(tmp_path)[1]
    return start_node(tmp_path, db_url, workers=2, extra=("--deliver-every", "0"))


def test_two_workers_serve_and_stop_with_sigterm(tmp_path):
    node = _node(tmp_path)
    workers = _children(node.process.pid)
    try:
        assert len(workers) == 2
        with requests.Session() as session:
            assert all(session.get(f"{node.base}/health", verify=node.ca, timeout=10).ok for _ in range(20))
    finally:
        node.stop()
    assert node.process.returncode == 0 and _gone(workers, 10)


def test_workers_do_not_outlive_a_killed_server(tmp_path):
    node = _node(tmp_path)
    workers = _children(node.process.pid)
    assert len(workers) == 2
    node.process.send_signal(signal.SIGKILL)
    node.process.wait(10)
    assert _gone(workers, 10)

"""The README's quick start, followed literally: its shell blocks run in order in a fresh folder (with the clone's
`lca_models/` and `.venv/` linked in), on free ports instead of 8443/8444, waiting for each `pcf serve ... &` to
answer as a person would. Each of the three users reaches the goal: the supplier's request answered, the buyer's
Scope 3 with the supplier's footprint as primary data, the exporter's QReport and declaration written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pcf.tiers.local_nodes import free_port

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- quickstart: (?P<name>\w+) -->\n```sh\n(?P<body>.*?)\n```", re.S)
WAIT = ("for i in $(seq 150); do [ -f {dir}/tls/cert.pem ] && python -c \"import requests; "
        "requests.get('https://127.0.0.1:{port}/health', verify='{dir}/tls/cert.pem', timeout=1).raise_for_status()\" "
        "2>/dev/null && break; sleep 0.2; done")


def _script(ports: dict[str, int]) -> str:
    blocks = {m["name"]: m["body"] for m in BLOCK.finditer((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert list(blocks) == ["setup", "supplier", "buyer", "answer", "scope3", "exporter"]
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null' EXIT"]
    for name, body in blocks.items():
        lines.append(f"echo '== {name}'")
        for line in body.replace("\\\n", " ").splitlines():
            for readme_port, port in ports.items():
                line = line.replace(str(readme_port), str(port))
            lines.append(line)
            served = re.match(r"pcf serve --data-dir (\w+) --port (\d+) .*&$", line)
            if served:
                lines.append(WAIT.format(dir=served[1], port=served[2]))
    return "\n".join(lines) + "\n"


def test_readme_quick_start_takes_each_user_to_the_goal(tmp_path):
    (tmp_path / "lca_models").symlink_to(ROOT / "lca_models")
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    env = {k: v for k, v in os.environ.items() if k not in ("PCF_DATA_DIR", "PCF_NODE_DB", "PCF_LANG")}
    script = _script({8443: free_port(), 8444: free_port()})
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    # 1. the supplier: a report in Chinese, the request answered
    assert "产品碳足迹报告" in (tmp_path / "steel.html").read_text(encoding="utf-8")
    assert "fulfilled request 1: Hot-rolled coil" in output
    # 2. the buyer: SteelCo's line is primary data from the mill's node, BoltCo's an estimate
    headline = re.search(r"primary \(supplier footprints\) ([\d,.]+) kgCO2e = ([\d.]+) %", output)
    assert headline and float(headline[1].replace(",", "")) > 0 and 0 < float(headline[2]) < 100, output[-3000:]
    assert (tmp_path / "scope3.xlsx").is_file()
    # 3. the exporter
    assert (tmp_path / "communication.xlsx").is_file() and (tmp_path / "declaration.json").is_file()
    assert "validated against QReport_ver23.00.xsd" in output
    assert not (ROOT / "supplier").exists() and not (ROOT / "buyer").exists()

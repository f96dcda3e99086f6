"""A sweep on an existing two-node Ray cluster (two `ray start` nodes on this one machine)."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from search.records import load_records

RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_readme_cluster_commands(tmp_path, cache_dir):
    """The README's three cluster commands (head, worker, sweep with --address auto), two nodes on this
    machine: tiny settings, loopback addresses, one CPU per node, token authentication as Ray 2.60 wants."""
    from tests.test_readme import commands_of, tiny_argv

    if not RAY.exists():
        pytest.skip(f"the ray command is not beside {sys.executable}")
    head, worker, sweep = commands_of("test_readme_cluster_commands")
    port = _free_port()
    node = ["--num-cpus=1", "--num-gpus=0", "--node-ip-address=127.0.0.1"]
    head_argv = [str(RAY), *shlex.split(head)[1:]]
    head_argv = [w.replace("6379", str(port)) for w in head_argv] + node + ["--include-dashboard=false"]
    worker_argv = [str(RAY), *[w.replace("HEAD_IP:6379", f"127.0.0.1:{port}") for w in shlex.split(worker)[1:]]] + node
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_ADDRESS": f"127.0.0.1:{port}",
           "COLORSWEEP_CACHE": str(cache_dir)}
    argv = tiny_argv(sweep)
    argv[argv.index("/shared/colorsweep-runs")] = str(tmp_path)
    argv[argv.index("--trials") + 1] = "4"
    subprocess.run(head_argv, check=True, env=env, capture_output=True, timeout=120)
    try:
        subprocess.run(worker_argv, check=True, env=env, capture_output=True, timeout=120)
        out = subprocess.run([sys.executable, "-m", "search.cli", *argv, "--json"], env=env, capture_output=True,
                             text=True, timeout=600)
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    payload = json.loads(out.stdout[out.stdout.index("{"):])
    assert len(payload["trials"]) == 4 and payload["complete"]
    (run_dir,) = tmp_path.glob("wide-*")
    records = load_records(run_dir)
    nodes = {r.node_id for r in records if r.node_id}
    assert len(nodes) == 2, nodes

"""A sweep on an existing two-node Ray cluster (two `ray start` nodes on this one machine)."""

from __future__ import annotations

import json
import os
import shutil
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


@pytest.fixture
def two_node_cluster(tmp_path):
    if not RAY.exists():
        pytest.skip(f"the ray command is not beside {sys.executable}")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    # Ray >= 2.5x starts clusters with token authentication; the token is in ~/.ray/auth_token and
    # every process that joins (worker nodes, the driver) must run in token mode too.
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    subprocess.run([str(RAY), "start", "--head", f"--port={port}", "--num-cpus=1", "--num-gpus=0",
                    "--include-dashboard=false", "--node-ip-address=127.0.0.1"],
                   check=True, env=env, capture_output=True, timeout=120)
    try:
        subprocess.run([str(RAY), "start", f"--address={address}", "--num-cpus=1", "--num-gpus=0",
                        "--node-ip-address=127.0.0.1"], check=True, env=env, capture_output=True, timeout=120)
        yield address, env
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)


@pytest.mark.slow
def test_smoke_sweep_runs_trials_on_both_nodes(two_node_cluster, tmp_path, cache_dir):
    address, cluster_env = two_node_cluster
    command = [sys.executable, "-m", "search.cli", "run", "smoke", "--data", "demo", "--size", "16",
               "--trials", "4", "--max-epochs", "2", "--grace-period", "2", "--address", address,
               "--storage", str(tmp_path), "--name", "cluster", "--json"]
    env = {**cluster_env, "COLORSWEEP_CACHE": str(cache_dir)}
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    payload = json.loads(out.stdout[out.stdout.index("{"):])
    assert len(payload["trials"]) == 4
    records = load_records(tmp_path / "cluster")
    nodes = {r.node_id for r in records if r.node_id}
    assert len(nodes) == 2, nodes

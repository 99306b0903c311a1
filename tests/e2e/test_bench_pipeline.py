"""bench/pipeline.py, the way the README runs it, at a size a test can afford: a fresh local
stack with the rules of ksql/ as shipped, every phase, and the figures file it writes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_the_pipeline_benchmark_measures_every_phase_and_loses_no_alert(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    argv = [
        "--partitions",
        "1",
        "--count",
        "3000",
        "--rates",
        "300",
        "--duration",
        "3",
        "--warmup",
        "2",
        "--idle-seconds",
        "3",
        "--idle-warmup",
        "1",
    ]
    run = subprocess.run(
        [sys.executable, "-m", "bench.pipeline", *argv, "--json", str(figures)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (result,) = json.loads(figures.read_text())["results"]
    throughput = result["throughput"]
    assert throughput["rate"] > 0 and throughput["bare_rate"] > 0
    assert set(throughput["cpu_us_per_transaction"]) >= {"kafka", "ksqldb", "consumer"}
    (latency,) = result["latency"]
    for phase in (throughput, latency):
        # The rules' model and the engine agree on every alert the traffic causes.
        assert (phase["missing"], phase["unexpected"]) == (0, 0)
    assert latency["kinds"]["transaction"]["count"] > 0
    assert latency["kinds"]["transaction"]["p99_ms"] >= latency["kinds"]["transaction"]["p50_ms"]
    # The warm-up's alerts are timed apart from the measured ones, not dropped.
    assert latency["warmup_s"] == 2
    assert latency["warmup_kinds"]["transaction"]["count"] > 0
    idle = result["idle"]
    assert idle["total_percent"] > 0
    # Where the idle cost comes from: every part of the stack is woken while transactions
    # flow (the broker by each request, the engine by each batch), and each wake-up costs time.
    assert {"kafka", "ksqldb", "consumer", "producer"} <= {
        part for part, rate in idle["wakeups_per_s"].items() if rate > 0
    }
    assert idle["cpu_us_per_wakeup"]["kafka"] > 0

"""scripts/cluster.py in a small configuration: two API processes behind the balancer and two workers on
PostgreSQL, one of each SIGKILLed halfway through the load; the script's own checks must all pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_the_cluster_loses_no_acknowledged_consent_and_runs_every_job_once_in_effect(
    postgres_database: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIDUCIARY_")}
    env["PYTHONPATH"] = str(ROOT / "src")
    command = [sys.executable, str(ROOT / "scripts" / "cluster.py"), "--api", "2", "--seconds", "6"]
    command += ["--clients", "3", "--people", "10", "--logs", str(tmp_path / "logs")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, timeout=600, check=False)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    report = json.loads(done.stdout)
    checks = report["checks"]
    assert report["killed"] == {"api": True, "worker": True}
    assert checks["acknowledged_consents"] > 0 and checks["acknowledged_consents_lost"] == 0
    assert checks["ledger_verify"] and checks["audit_verify"]
    assert checks["jobs_queued"] > 0
    assert checks["jobs_succeeded"] == checks["job_effects"] == checks["jobs_queued"]
    assert checks["periodic_runs"] == checks["periodic_occurrences"]
    assert report["ok"] and done.returncode == 0

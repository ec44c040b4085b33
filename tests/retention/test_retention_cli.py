"""`fiduciary retention …` (issue 15): plan, run with its proof report, holds; and a run killed with
kill -9 halfway that the next run finishes, erasing nothing twice and nothing held."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from fiduciary.cli.main import app
from fiduciary.config import Settings
from fiduciary.retention.models import RetentionBatch, RetentionHold, RetentionRun
from sweep_support import categories_of, person_with
from vault_support import vault_runtime

KILLED_RUN = textwrap.dedent(
    """
    import os, signal
    from fiduciary.cli import start_runtime
    from fiduciary.retention import sweep

    calls = {"n": 0}
    real = sweep._next_seq

    def dying(session, run_id):
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch's rows are deleted, not yet committed
            os.kill(os.getpid(), signal.SIGKILL)
        return real(session, run_id)

    sweep._next_seq = dying
    runtime = start_runtime()
    sweep.run_sweep(runtime, actor="cli", batch_size=2)
    """
)


def _fields_in_batches(session) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(sa.select(sa.func.sum(RetentionBatch.fields))) or 0)


def test_a_run_killed_halfway_is_finished_by_the_next_run(cli_env: None, settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        people = [person_with(session, runtime, vault, closed_days_ago=60) for _ in range(8)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run([sys.executable, "-c", KILLED_RUN], env=env, capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        gone = [p for p in people if not categories_of(session, p)]
        assert 1 <= len(gone) <= 2  # the first batch committed; the second rolled back with the kill
        assert _fields_in_batches(session) == 2 * len(gone)
        left = sorted(p for p in people if p not in gone)
        held = left[-1]  # a hold placed before the next run: it must survive it
        session.add(
            RetentionHold(
                id="hold_" + "a" * 26, person_id=held, reason="dispute", placed_by="staff_1",
                placed_at=sa.func.now(), until=__import__("datetime").date(2030, 1, 1),
            )
        )  # fmt: skip
        session.commit()
    result = CliRunner().invoke(app, ["retention", "run", "--batch", "2"])
    assert result.exit_code == 0, result.output
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        assert categories_of(session, held) == {"identity.name", "contact.email"}
        assert all(not categories_of(session, p) for p in people if p != held)
        assert _fields_in_batches(session) == 2 * (len(people) - 1)  # each value once, the held ones never
        runs = session.scalars(sa.select(RetentionRun)).all()
        assert len(runs) == 1 and runs[0].finished_at is not None
        seqs = session.scalars(sa.select(RetentionBatch.seq).where(RetentionBatch.rule == "account_data")).all()
        assert len(seqs) == len(set(seqs))


def test_plan_run_and_proof_report(cli_env: None, settings: Settings, tmp_path: Path) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault, closed_days_ago=60)
    runner = CliRunner()
    planned = runner.invoke(app, ["retention", "plan", "--json"])
    assert planned.exit_code == 0, planned.output
    rules = {r["rule"]: r for r in json.loads(planned.output)["rules"]}
    assert (rules["account_data"]["fields"], rules["account_data"]["people"]) == (2, 1)
    assert rules["transaction_records"]["status"] == "swept"
    shown = runner.invoke(app, ["retention", "plan"])
    assert shown.exit_code == 0 and "dry run: nothing changed" in shown.output and "legal-hold records" in shown.output
    ran = runner.invoke(app, ["retention", "run", "--report", str(tmp_path / "proof")])
    assert ran.exit_code == 0, ran.output
    proof = json.loads((tmp_path / "proof.json").read_text(encoding="utf-8"))
    batch = proof["rules"]["account_data"]["batches"][0]
    assert proof["rules"]["account_data"]["fields"] == 2 and batch["ledger_position"] > 0
    assert f"ledger positions {batch['ledger_position']}" in (tmp_path / "proof.txt").read_text(encoding="utf-8")
    with vault_runtime(settings) as (runtime, _vault), runtime.sessions() as session:
        assert categories_of(session, person) == set()


def test_hold_commands_and_bad_input(cli_env: None, settings: Settings) -> None:
    with vault_runtime(settings) as (runtime, vault), runtime.sessions() as session:
        person = person_with(session, runtime, vault)
    runner = CliRunner()
    bad = runner.invoke(
        app, ["retention", "hold", "place", "--person", person, "--reason", "whim", "--until", "2000-01-01"]
    )
    assert bad.exit_code == 1 and "reason" in bad.output and "until" in bad.output
    placed = runner.invoke(
        app,
        ["retention", "hold", "place", "--person", person, "--reason", "dispute", "--until", "2030-01-01",
         "--note", "customer disputes order; call 98123 45678"],
    )  # fmt: skip
    assert placed.exit_code == 0, placed.output
    hold_id = placed.output.split()[1]
    listed = json.loads(runner.invoke(app, ["retention", "hold", "list", "--person", person, "--json"]).output)
    assert [h["id"] for h in listed] == [hold_id] and "98123" not in listed[0]["note"]
    released = runner.invoke(app, ["retention", "hold", "release", hold_id])
    assert released.exit_code == 0
    again = runner.invoke(app, ["retention", "hold", "release", hold_id])
    assert again.exit_code == 1 and "already released" in again.output

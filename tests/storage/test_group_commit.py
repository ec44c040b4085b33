"""Group commit on SQLite (storage/group_commit.py): requests queued at the database gate share one COMMIT,
one request's failure undoes only its own work, and a failed COMMIT acknowledges nothing.

In process, on a real SQLite file, with real domain writes (consent grants with their ledger events, audited
decisions, queued jobs) so the unit of work's audit hooks run inside each request's savepoint. The members
are anyio tasks, as the web's requests are; the first holds the gate until the others queue behind it, so
the groups formed are deterministic. tests/web/test_group_commit_http.py does the same over a real server.
"""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from consent_support import adult, item
from fiduciary.audit.models import AuditEventIndex
from fiduciary.audit.service import AuditTrail
from fiduciary.comms.outbox import JOB_NAME as OUTBOX_JOB
from fiduciary.config import Settings
from fiduciary.consent.models import ConsentState
from fiduciary.consent.service import ConsentService
from fiduciary.decisions.flows import decide_audited
from fiduciary.errors import Conflict
from fiduciary.jobs.queue import QueuedJob
from fiduciary.ledger.models import LedgerEvent
from fiduciary.runtime import Runtime
from fiduciary.storage import group_commit
from fiduciary.storage.group_commit import DatabaseGate, GroupCommitFailed
from fiduciary.unit_of_work import unit_of_work

Work = Callable[[Session], None]


@pytest.fixture
def runtime(sqlite_template: Path, tmp_path: Path) -> Iterator[Runtime]:
    """SQLite only: PostgreSQL has no gate and keeps its own commits."""
    path = tmp_path / "fiduciary.db"
    shutil.copyfile(sqlite_template, path)
    rt = Runtime.start(Settings(database_url=f"sqlite:///{path}", data_dir=tmp_path / "data"), migrate=False)
    try:
        yield rt
    finally:
        rt.close()


def people(runtime: Runtime, count: int) -> list[str]:
    with runtime.sessions() as session:
        return [adult(session, runtime) for _ in range(count)]


def grant(runtime: Runtime, person: str) -> Work:
    service = ConsentService.for_runtime(runtime)
    return lambda session: service.record(session, item(person, "marketing.email"))


async def run_members(gate: DatabaseGate, runtime: Runtime, works: list[Work]) -> list[BaseException | None]:
    """Each work in a request of its own that joins the group; the first holds the gate until all the others
    wait behind it. Returns each member's outcome (None: acknowledged)."""
    outcomes: list[BaseException | None] = [None] * len(works)
    all_queued = anyio.Event()

    async def member(index: int) -> None:
        try:
            async with gate.joined(runtime.sessions) as session:
                if index == 0:
                    await all_queued.wait()
                works[index](session)
        except Exception as exc:
            outcomes[index] = exc

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(member, 0)
        await anyio.sleep(0)
        for index in range(1, len(works)):
            tasks.start_soon(member, index)
        while gate.waiting < len(works) - 1:
            await anyio.sleep(0)
        all_queued.set()
    return outcomes


def run(body: Callable[[], Awaitable[object]]) -> object:
    return anyio.run(body)


def granted(runtime: Runtime) -> set[str]:
    with runtime.sessions() as session:
        return set(session.scalars(sa.select(ConsentState.subject_id).where(ConsentState.status == "granted")))


def ledger_count(runtime: Runtime, stream: str) -> int:
    with runtime.sessions() as session:
        found = session.scalar(sa.select(sa.func.count()).select_from(LedgerEvent).where(LedgerEvent.stream == stream))
        return int(found or 0)


def verified(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        assert ConsentService.for_runtime(runtime).ledger.verify(session).ok
        assert AuditTrail.for_runtime(runtime).ledger.verify(session).ok


def test_requests_queued_at_the_gate_share_one_commit(runtime: Runtime) -> None:
    subjects = people(runtime, 8)
    gate = DatabaseGate(runtime.engine)
    outcomes = run(lambda: run_members(gate, runtime, [grant(runtime, s) for s in subjects]))
    assert outcomes == [None] * 8
    assert gate.commits == 1, "eight requests queued together were committed in one COMMIT"
    assert granted(runtime) == set(subjects)
    assert ledger_count(runtime, "consent") == 8
    verified(runtime)


def test_a_lone_request_commits_by_itself(runtime: Runtime) -> None:
    (subject,) = people(runtime, 1)
    gate = DatabaseGate(runtime.engine)
    assert run(lambda: run_members(gate, runtime, [grant(runtime, subject)])) == [None]
    assert gate.commits == 1
    assert granted(runtime) == {subject}


def test_a_failing_request_leaves_nothing_and_the_others_commit(runtime: Runtime) -> None:
    subjects = people(runtime, 5)
    audited_before = ledger_count(runtime, "audit")

    def grant_decide_enqueue_then_fail(session: Session) -> None:
        """Writes everything a request can (a consent and its ledger event, an audited decision, a queued
        job), then fails: all of it must go, and only it."""
        grant(runtime, subjects[2])(session)
        decide_audited(runtime, session, caller="key_test", subject_id=subjects[2], purpose="marketing.email")
        unit_of_work(runtime, session).enqueue(OUTBOX_JOB, {}, queueing_lock="group-commit-test")
        session.flush()
        raise Conflict("refused mid-group", code="test_refusal")

    def decide(subject: str) -> Work:
        return lambda session: decide_audited(
            runtime, session, caller="key_test", subject_id=subject, purpose="marketing.email"
        )

    works = [grant(runtime, subjects[0]), decide(subjects[1]), grant_decide_enqueue_then_fail]
    works += [grant(runtime, subjects[3]), grant(runtime, subjects[4])]
    gate = DatabaseGate(runtime.engine)
    outcomes = run(lambda: run_members(gate, runtime, works))
    assert [type(o).__name__ if o else None for o in outcomes] == [None, None, "Conflict", None, None]
    assert gate.commits == 1
    assert granted(runtime) == {subjects[0], subjects[3], subjects[4]}
    assert ledger_count(runtime, "consent") == 3  # the failed grant's event is not in the chain
    assert ledger_count(runtime, "audit") == audited_before + 1  # the other request's decision only
    with runtime.sessions() as session:
        people_audited = set(session.scalars(sa.select(AuditEventIndex.person_id)))
        assert subjects[2] not in people_audited and subjects[1] in people_audited
        assert session.scalar(sa.select(QueuedJob.id).where(QueuedJob.queueing_lock == "group-commit-test")) is None
    verified(runtime)


def test_a_failed_commit_fails_every_request_and_stores_nothing(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    subjects = people(runtime, 4)

    def commit_fails(_connection: sa.Connection) -> None:
        raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(sa.Connection, "commit", commit_fails)
    gate = DatabaseGate(runtime.engine)
    outcomes = run(lambda: run_members(gate, runtime, [grant(runtime, s) for s in subjects]))
    monkeypatch.undo()
    assert all(isinstance(o, GroupCommitFailed) for o in outcomes), outcomes
    assert granted(runtime) == set()
    assert ledger_count(runtime, "consent") == 0
    # The gate recovers: the next group commits.
    assert run(lambda: run_members(gate, runtime, [grant(runtime, s) for s in subjects])) == [None] * 4
    assert granted(runtime) == set(subjects)
    verified(runtime)


def test_a_request_whose_error_rolled_back_the_whole_transaction_fails_the_group(runtime: Runtime) -> None:
    """SQLite rolls the whole transaction back on some errors (SQLITE_FULL, SQLITE_IOERR …); the request's
    ROLLBACK TO SAVEPOINT then fails, and every member of the group so far must fail with it. The request
    queued behind it starts a new group."""
    subjects = people(runtime, 4)

    def as_if_the_disk_were_full(session: Session) -> None:
        grant(runtime, subjects[2])(session)
        session.connection().connection.dbapi_connection.execute("ROLLBACK")  # type: ignore[union-attr]
        raise sa.exc.OperationalError("INSERT", {}, Exception("database or disk is full"))

    works = [grant(runtime, subjects[0]), grant(runtime, subjects[1]), as_if_the_disk_were_full]
    works.append(grant(runtime, subjects[3]))
    gate = DatabaseGate(runtime.engine)
    outcomes = run(lambda: run_members(gate, runtime, works))
    assert isinstance(outcomes[2], sa.exc.OperationalError)
    assert [isinstance(o, GroupCommitFailed) for o in outcomes[:2]] == [True, True]
    assert outcomes[3] is None
    assert granted(runtime) == {subjects[3]}
    assert gate.commits == 1
    verified(runtime)


def test_a_commit_with_no_transaction_left_is_refused_not_acknowledged(runtime: Runtime) -> None:
    """`sqlite3`'s commit() with no transaction open does nothing and raises nothing: the group checks first."""
    subject, lost = people(runtime, 2)
    gate = DatabaseGate(runtime.engine)

    async def body() -> None:
        async with gate.joined(runtime.sessions) as session:
            grant(runtime, subject)(session)
        # A group left open by hand, its transaction then lost as SQLite loses it:
        group = gate._open_group()
        with runtime.sessions(bind=group.connection, join_transaction_mode="create_savepoint") as session:
            grant(runtime, lost)(session)
            session.commit()
        group.connection.connection.dbapi_connection.execute("ROLLBACK")  # type: ignore[union-attr]
        with pytest.raises(GroupCommitFailed, match="rolled the group's transaction back"):
            group_commit._end_transaction(group)
        gate._group = None

    run(body)
    assert granted(runtime) == {subject}


def test_a_request_with_its_own_transaction_commits_the_open_group_first(runtime: Runtime) -> None:
    subject, other = people(runtime, 2)
    gate = DatabaseGate(runtime.engine)
    seen: list[set[str]] = []

    async def body() -> None:
        async def own_transaction() -> None:
            async with gate.exclusive():
                seen.append(granted(runtime))  # the group's member is committed before this runs
                with runtime.sessions() as session:  # and this write does not wait on the group's lock
                    grant(runtime, other)(session)
                    session.commit()

        async with anyio.create_task_group() as tasks, gate.joined(runtime.sessions) as session:
            tasks.start_soon(own_transaction)
            while gate.waiting < 1:
                await anyio.sleep(0)
            grant(runtime, subject)(session)

    run(body)
    assert seen == [{subject}]
    assert granted(runtime) == {subject, other}
    assert gate.commits == 1


def test_a_group_whose_next_holder_was_cancelled_is_committed_by_a_waiting_member(runtime: Runtime) -> None:
    """The member hands the gate to a waiter that is cancelled before it takes it: nobody would end the
    group, so the waiting member does."""
    (subject,) = people(runtime, 1)
    gate = DatabaseGate(runtime.engine)

    async def body() -> None:
        with anyio.fail_after(10):
            await the_test()

    async def the_test() -> None:
        async with anyio.create_task_group() as tasks:
            waiter = anyio.CancelScope()

            async def cancelled_waiter() -> None:
                with waiter:
                    async with gate.joined(runtime.sessions):
                        raise AssertionError("never reached")

            async with gate.joined(runtime.sessions) as session:
                tasks.start_soon(cancelled_waiter)
                while gate.waiting < 1:
                    await anyio.sleep(0)
                grant(runtime, subject)(session)
                waiter.cancel()  # still counted at the gate when this member leaves

    run(body)
    assert granted(runtime) == {subject}
    assert gate.commits == 1

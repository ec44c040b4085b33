"""`comms.deliver`: a real SMTP server (aiosmtpd) on both engines, the outbox folder, retries, no duplicates."""

from __future__ import annotations

import threading
from email import message_from_bytes, policy

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.comms.delivery import OutboxConfigError, deliver, parse_smtp_url
from fiduciary.comms.messages import grievance_contact
from fiduciary.comms.models import OutboxMessage
from fiduciary.jobs.local import LocalJobRunner
from fiduciary.metrics import REGISTRY
from fiduciary.runtime import Runtime
from jobs_support import cli_env, fiduciary
from leak_guard import LeakDetector, recording
from outbox_support import ADDRESS, CODE, new_person, send_code, statuses, use_smtp
from smtp_support import free_port, smtp_server


def test_smtp_delivery_reaches_a_real_server(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    with smtp_server() as (sink, url):
        use_smtp(runtime, url)
        report = deliver(runtime)
    assert (report.sent, report.retried, report.failed, report.backlog) == (1, 0, 0, 0)
    [received] = sink.received
    assert received.recipients == [ADDRESS]
    mail = received.message
    assert mail["Message-ID"] == message.message_id and mail["To"] == ADDRESS
    assert (
        mail["From"] == "privacy@saffronlane.example" and mail["Subject"] == "Your verification code for Saffron Lane"
    )
    assert mail["Auto-Submitted"] == "auto-generated" and mail["Content-Language"] == "en"
    text = mail.get_content()
    assert CODE in text and grievance_contact(runtime.policy()) in text
    assert statuses(session) == [("sent", 1)]
    row = session.get(OutboxMessage, message.id)
    assert row is not None and row.sent_at is not None and row.last_error is None
    assert deliver(runtime).sent == 0  # nothing left: a sent message is never sent again


def test_without_smtp_messages_land_in_the_outbox_folder(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1", language="hi")
    session.commit()
    assert deliver(runtime).sent == 1
    folder = runtime.settings.data_dir / "outbox"
    [written] = list(folder.glob("*.eml"))
    assert written.name == f"{message.id}.eml" and written.stat().st_mode & 0o777 == 0o600
    mail = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert mail["To"] == ADDRESS and mail["Message-ID"] == message.message_id
    assert "यह कोड 10 मिनट तक मान्य है।" in mail.get_content()  # type: ignore[attr-defined]
    assert statuses(session) == [("sent", 1)]


def test_the_job_runs_when_the_message_commits(session: Session, runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("the in-process runner is the embedded default's; procrastinate workers run it on PostgreSQL")
    pid = new_person(session, runtime)
    send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    runner = LocalJobRunner(runtime, runtime.engine, runtime.sessions, runtime.settings)
    assert runner.run_pending() == 1 and runner.succeeded == 1
    assert statuses(session) == [("sent", 1)]


def test_an_unreachable_server_keeps_the_message_waiting_then_it_is_delivered(
    session: Session, runtime: Runtime
) -> None:
    pid = new_person(session, runtime)
    send_code(session, runtime, pid, "rights.code:req_1:1")
    send_code(session, runtime, pid, "rights.code:req_2:1")
    session.commit()
    port = free_port()
    use_smtp(runtime, f"smtp://127.0.0.1:{port}")
    with recording(LeakDetector()) as detector:
        first = deliver(runtime)
        second = deliver(runtime)
    assert (first.sent, first.retried, first.backlog) == (0, 1, 2)  # the rest wait for the server, untried
    assert REGISTRY.get_sample_value("fiduciary_outbox_backlog") == 2
    assert second.retried == 1
    # the retried one went behind the other (its next attempt is later): each was tried once
    assert sorted(statuses(session)) == [("pending", 1), ("pending", 1)]
    errors = session.scalars(sa.select(OutboxMessage.last_error).where(OutboxMessage.attempts > 0)).all()
    assert errors == ["ConnectionRefusedError"] * 2  # a class name, never a server reply or an address
    assert detector.findings == []  # the retry warnings name no address
    with smtp_server(port) as (sink, _url):
        report = deliver(runtime)
    assert report.sent == 2 and len(sink.received) == 2
    assert REGISTRY.get_sample_value("fiduciary_outbox_backlog") == 0
    assert sorted(statuses(session)) == [("sent", 2), ("sent", 2)]


def test_a_message_that_uses_up_its_attempts_is_marked_failed(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    use_smtp(runtime, f"smtp://127.0.0.1:{free_port()}", outbox_max_attempts=2)
    assert deliver(runtime).retried == 1
    assert deliver(runtime).failed == 1
    assert statuses(session) == [("failed", 2)]
    assert deliver(runtime).backlog == 0  # failed is visible, no longer retried


def test_backoff_doubles_between_attempts(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    use_smtp(runtime, f"smtp://127.0.0.1:{free_port()}", outbox_backoff_seconds=60.0)
    deliver(runtime)
    row = session.scalars(sa.select(OutboxMessage)).one()
    first_wait = (row.next_attempt_at - row.created_at).total_seconds()
    assert 55 < first_wait < 120
    assert deliver(runtime).retried == 0  # not due yet


def test_two_deliverers_at_once_send_each_message_once(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    for n in range(12):
        send_code(session, runtime, pid, f"rights.code:req_{n}:1")
    session.commit()
    with smtp_server() as (sink, url):
        use_smtp(runtime, url)
        start = threading.Barrier(2)
        sent: list[int] = []

        def run() -> None:
            start.wait()
            sent.append(deliver(runtime).sent)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    ids = [r.message["Message-ID"] for r in sink.received]
    assert sum(sent) == 12 and len(ids) == 12 and len(set(ids)) == 12
    assert statuses(session) == [("sent", 1)] * 12


def test_a_message_left_sending_by_a_dead_deliverer_is_sent_again_with_its_message_id(
    session: Session, runtime: Runtime
) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status="sending", attempts=1, claimed_at=message.created_at.replace(year=2020))
    )
    session.commit()
    with smtp_server() as (sink, url):
        use_smtp(runtime, url)
        report = deliver(runtime)
    assert (report.reclaimed, report.sent) == (1, 1)
    assert [r.message["Message-ID"] for r in sink.received] == [message.message_id]
    assert statuses(session) == [("sent", 2)]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example:2525", ("mail.example", 2525, False, False, None)),
        ("smtp://u%40x:p%2Fw@mail.example?starttls=true", ("mail.example", 25, False, True, "u@x")),
        ("smtps://mail.example", ("mail.example", 465, True, False, None)),
    ],
)
def test_smtp_urls(url: str, expected: tuple[object, ...]) -> None:
    t = parse_smtp_url(url)
    assert (t.host, t.port, t.implicit_tls, t.starttls, t.username) == expected


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://secret@mail.example:99999"])
def test_bad_smtp_urls_never_quote_the_url(url: str) -> None:
    with pytest.raises(OutboxConfigError) as caught:
        parse_smtp_url(url)
    assert "secret" not in str(caught.value) and "mail.example" not in str(caught.value)


def test_a_fiduciary_worker_delivers_the_message_queued_with_it(session: Session, runtime: Runtime) -> None:
    """The job queued on commit, run by a real `fiduciary worker --burst` (procrastinate on PostgreSQL, the
    table-backed queue on SQLite), reaches the SMTP server."""
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1")
    session.commit()
    env = cli_env(runtime.settings.resolved_database_url, runtime.settings.data_dir)
    assert fiduciary(env, "init").returncode == 0
    with smtp_server() as (sink, url):
        env.update(FIDUCIARY_SMTP_URL=url, FIDUCIARY_OUTBOX_SWEEP_SECONDS="0")
        done = fiduciary(env, "worker", "--burst")
        assert done.returncode == 0, done.stderr[-2000:]
    assert [r.message["Message-ID"] for r in sink.received] == [message.message_id]
    assert statuses(session) == [("sent", 1)]
    assert ADDRESS not in done.stderr + done.stdout  # the worker's log names no address


def test_an_sms_is_written_to_the_outbox_folder_even_with_smtp_configured(session: Session, runtime: Runtime) -> None:
    pid = new_person(session, runtime)
    message = send_code(session, runtime, pid, "rights.code:req_1:1", channel="sms", to="+91 98123 45670")
    session.commit()
    with smtp_server() as (sink, url):
        use_smtp(runtime, url)
        assert deliver(runtime).sent == 1
    assert sink.received == []
    written = (runtime.settings.data_dir / "outbox" / f"{message.id}.sms.txt").read_text(encoding="utf-8")
    assert written.startswith("To: +919812345670\n") and CODE in written

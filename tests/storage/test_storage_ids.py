"""storage.ids: many ids as one parameter, on both engines, with the SQL text fixed whatever the count."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from fiduciary.people.models import Person
from fiduciary.people.service import create_person, new_person_id
from fiduciary.runtime import Runtime
from fiduciary.storage.ids import IDS, bind_ids, dialect_of, ids_in, per_dialect

PROBE = sa.Table("ids_probe", sa.MetaData(), sa.Column("id", sa.String(40), primary_key=True))
# Ids a JSON array or an array literal could get wrong: quotes, backslashes, commas, braces, non-ASCII.
AWKWARD = ['q"uote', "back\\slash", "com,ma", "{brace}", "नमस्ते", "emoji 🙂", "NULL", " spaced "]


@pytest.fixture
def probe(session: Session) -> Iterator[list[str]]:
    """A scratch table holding 50 plain ids and the awkward ones; dropped afterwards."""
    stored = [f"id_{i:03d}" for i in range(50)] + AWKWARD
    PROBE.create(session.connection())
    session.execute(PROBE.insert(), [{"id": i} for i in stored])
    yield stored
    session.rollback()
    PROBE.drop(session.connection(), checkfirst=True)
    session.commit()


def found(session: Session, wanted: object, dialect: str | None = None) -> set[str]:
    dialect = dialect or dialect_of(session)
    statement = sa.select(PROBE.c.id).where(ids_in(PROBE.c.id, dialect))
    return set(session.scalars(statement, {IDS: bind_ids(wanted, dialect)}))  # type: ignore[arg-type]


@contextmanager
def statements(session: Session) -> Iterator[list[tuple[str, object]]]:
    seen: list[tuple[str, object]] = []

    def before(conn: object, cursor: object, statement: str, parameters: object, *args: object) -> None:
        seen.append((statement, parameters))

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


def test_finds_exactly_the_stored_ids(session: Session, probe: list[str]) -> None:
    missing = [f"gone_{i}" for i in range(30)]
    wanted = probe[::3] + missing + AWKWARD
    assert found(session, wanted) == set(probe[::3]) | set(AWKWARD)
    assert found(session, missing) == set()
    assert found(session, []) == set()
    assert found(session, probe[:5] * 4) == set(probe[:5])  # duplicates are harmless
    assert found(session, (i for i in probe[:3])) == set(probe[:3])  # any iterable


def test_many_ids_need_no_chunking(session: Session, probe: list[str]) -> None:
    """Well past SQLite's parameter limit (32,766), in one statement with one parameter."""
    wanted = [f"gone_{i}" for i in range(40_000)] + probe[-10:]
    with statements(session) as seen:
        assert found(session, wanted) == set(probe[-10:])
    [(_, parameters)] = seen
    assert len(parameters) == 1  # type: ignore[arg-type]


def test_sql_text_does_not_depend_on_the_number_of_ids(session: Session, probe: list[str]) -> None:
    dialect = dialect_of(session)
    statement = sa.select(PROBE.c.id).where(ids_in(PROBE.c.id, dialect))
    with statements(session) as seen:
        for n in (1, 7, 300):
            session.execute(statement, {IDS: bind_ids(probe[:n], dialect)}).all()
    assert len(seen) == 3
    assert len({sql for sql, _ in seen}) == 1, seen
    expected = "json_each" if dialect == "sqlite" else "ANY"
    assert expected in seen[0][0]


def test_other_dialects_fall_back_to_an_expanding_in(session: Session, probe: list[str]) -> None:
    """The fallback runs anywhere SQLAlchemy does (here on the engine at hand) and answers the same."""
    wanted = [*probe[10:20], "gone", *AWKWARD[:2]]
    assert found(session, wanted, "some_other_dialect") == found(session, wanted)
    assert "IN" in str(sa.select(PROBE.c.id).where(ids_in(PROBE.c.id, "some_other_dialect")))
    assert bind_ids(("a", "b"), "some_other_dialect") == ["a", "b"]


def test_orm_attributes_and_named_parameters(session: Session, runtime: Runtime) -> None:
    """An ORM attribute works as the column, and two id lists in one statement bind separately."""
    policy = runtime.policy()
    adult = create_person(session, policy=policy, is_child=False).id
    child = create_person(session, policy=policy, is_child=True).id
    dialect = dialect_of(session)
    statement = sa.select(Person.id).where(ids_in(Person.id, dialect), ~ids_in(Person.id, dialect, name="skip"))
    params = {IDS: bind_ids([adult, child, new_person_id()], dialect), "skip": bind_ids([child], dialect)}
    assert list(session.scalars(statement, params)) == [adult]


def test_bind_ids_shapes() -> None:
    assert json.loads(bind_ids(AWKWARD, "sqlite")) == AWKWARD  # type: ignore[arg-type]
    assert json.loads(bind_ids(iter(["a"]), "sqlite")) == ["a"]  # type: ignore[arg-type]
    assert bind_ids({"x"}, "postgresql") == ["x"]
    assert bind_ids([], "sqlite") == "[]"


def test_dialect_of(session: Session) -> None:
    assert dialect_of(session) == session.get_bind().dialect.name
    assert dialect_of(session) in ("sqlite", "postgresql")


def test_per_dialect_builds_once_per_name() -> None:
    calls: list[str] = []

    @per_dialect
    def build(dialect: str) -> list[str]:
        calls.append(dialect)
        return [dialect]

    first = build("sqlite")
    assert build("sqlite") is first
    assert build("postgresql") == ["postgresql"]
    assert build("postgresql") is build("postgresql")
    assert calls == ["sqlite", "postgresql"]
    assert build.__name__ == "build"


NUMBERS = sa.Table("ids_probe_numbers", sa.MetaData(), sa.Column("id", sa.BigInteger, primary_key=True))


def test_integer_ids_as_one_text(session: Session) -> None:
    """`bind_integer_ids`: integer keys (beyond 32 bits too) found exactly, the SQL the same for any count."""
    from fiduciary.storage.ids import bind_integer_ids

    NUMBERS.create(session.connection())
    try:
        stored = [*range(1, 200), 2**40 + 7]
        session.execute(NUMBERS.insert(), [{"id": i} for i in stored])
        dialect = dialect_of(session)
        statement = sa.select(NUMBERS.c.id).where(ids_in(NUMBERS.c.id, dialect, integers=True))
        wanted = [*stored[::7], 2**40 + 7, 10_000, -3]
        with statements(session) as seen:
            for ids in (wanted, [5], []):
                got = set(session.scalars(statement, {IDS: bind_integer_ids(ids, dialect)}))
                assert got == set(ids) & set(stored)
        assert len({sql for sql, _ in seen}) == 1
    finally:
        session.rollback()
        NUMBERS.drop(session.connection(), checkfirst=True)
        session.commit()

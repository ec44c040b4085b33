"""Many ids as one bound parameter, in statements built once per dialect.

Why: `column.in_(ids)` is an *expanding* IN. SQLAlchemy re-renders the statement's SQL for every call
(one placeholder per id), binds one parameter per id, and SQLite caps the number of parameters, so
callers also had to chunk. And building a `select(...)` costs more than running it for a handful of
ids (the decision's fact loading, its statements built per call, was 45% of an audited vault read). Here
the ids travel as one parameter and the SQL text never changes, so a statement can be built once per
dialect and reused for any number of ids:

- SQLite: `column IN (SELECT value FROM json_each(:ids))`, with the ids bound as one JSON array text.
- PostgreSQL: `column = ANY(:ids)`, with the ids bound as one array (measured 5.4 ms against 15.8 ms
  for an expanding IN of the same 1,000 ids, bench/RESULTS.md "decisions").
- Any other dialect: an expanding IN, so the same code still runs (slower) wherever SQLAlchemy does.

API (all typed; `dialect` is `Dialect.name`, e.g. from `dialect_of(session)`):

- `ids_in(column, dialect, name="ids", integers=False) -> ColumnElement[bool]`: the condition "column is
  one of the ids bound to :name". Use a different `name` for a second id list in the same statement;
  `integers=True` for an integer key (bound with `bind_integer_ids`, cast to BIGINT[] on PostgreSQL).
- `bind_ids(ids, dialect) -> str | list[str] | list[int]`: the value to pass for that parameter;
  `bind_integer_ids(ids, dialect) -> str` for integer ids on SQLite and PostgreSQL (one text, made faster).
- `per_dialect(build)`: memoise a statement builder `build(dialect) -> T` by dialect name (decorator).
- `dialect_of(session) -> str`: the dialect name of the session's bind.

Usage (the pattern `consent/service.py`'s `_ID_QUERIES` can switch to):

    @per_dialect
    def _people_query(dialect: str) -> Select[str, str]:
        people = Person.__table__
        return select(people.c.id, people.c.status).where(ids_in(people.c.id, dialect))

    dialect = dialect_of(session)
    rows = session.execute(_people_query(dialect), {"ids": bind_ids(wanted, dialect)})

A statement of table columns (`Model.__table__.c.x`) is plain Core: `Session.execute` runs it without the
ORM's per-call compile and loading work (it still autoflushes, SQLAlchemy >= 2.0.16): for one id, 87 against
165 µs of CPU on SQLite and 252 against 409 µs on PostgreSQL, measured on a loaded machine. Statements of
ORM attributes (`Model.x`) work too. Neither form limits the number of ids, so no chunking is needed on
SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import wraps
from typing import TypeVar

from sqlalchemy import BigInteger, ColumnElement, String, any_, bindparam, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session

__all__ = ["IDS", "bind_ids", "bind_integer_ids", "dialect_of", "ids_in", "per_dialect"]

IDS = "ids"  # the default parameter name

T = TypeVar("T")
K = TypeVar("K", str, int)

_JSON_ARRAY = json.JSONEncoder(separators=(",", ":")).encode


def ids_in(
    column: ColumnElement[K] | QueryableAttribute[K], dialect: str, name: str = IDS, *, integers: bool = False
) -> ColumnElement[bool]:
    """`column` is one of the ids bound to `:name` (pass `bind_ids(ids, dialect)` for it); `integers`: the
    ids are integers (an integer primary key): pass `bind_integer_ids(ids, dialect)`."""
    if dialect == "sqlite":
        values = select(literal_column("value")).select_from(func.json_each(bindparam(name))).scalar_subquery()
        return column.in_(values)
    if dialect == "postgresql" and integers:  # bound as one array literal text (`bind_integer_ids`)
        return column == any_(cast(bindparam(name, type_=String), ARRAY(BigInteger)))
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(String)))
    return column.in_(bindparam(name, expanding=True))


def bind_ids(ids: Iterable[K], dialect: str) -> str | list[K]:
    """The value of an `ids_in` parameter: a JSON array text on SQLite, a list elsewhere.

    Duplicates are harmless (the condition is a set test), so callers need not dedupe.
    """
    if dialect == "sqlite":
        return _JSON_ARRAY(ids if isinstance(ids, list | tuple) else list(ids))
    return list(ids)


def bind_integer_ids(ids: Iterable[int], dialect: str) -> str:
    """The value of an `ids_in(..., integers=True)` parameter as one text: a JSON array on SQLite, an array
    literal (`{1,2,3}`, cast to BIGINT[] by the statement) on PostgreSQL. Made at C speed: binding a list of
    thousands of ints on PostgreSQL spends milliseconds in the driver checking each element."""
    if dialect == "sqlite":
        return _JSON_ARRAY(ids if isinstance(ids, list | tuple) else list(ids))
    return "{" + ",".join(map(str, ids)) + "}"


def per_dialect(build: Callable[[str], T]) -> Callable[[str], T]:
    """`build(dialect)` once per dialect name, then the same object: statements are costlier to build
    than to run. Two threads racing on the first call both build; one result wins, both are equal."""
    built: dict[str, T] = {}

    @wraps(build)
    def get(dialect: str) -> T:
        try:
            return built[dialect]
        except KeyError:
            value = built[dialect] = build(dialect)
            return value

    return get


def dialect_of(session: Session) -> str:
    """The dialect name (`sqlite`, `postgresql`) of the session's bind."""
    return session.get_bind().dialect.name

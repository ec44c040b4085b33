"""The README's keys can make the README's calls (issue 10, item 3).

The test reads README.md itself: the `fiduciary apikey create` commands (key names and scopes), every row
of the main-calls table (each call and the key the row names), and every `curl` command of the example.
It creates exactly those keys, runs each curl as written (variables filled in) and each table call with
the row's key, and expects success. A README that names a scope or key the call does not accept, or a call
this test has no request for, fails here.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from fiduciary.auth.service import create_api_key

README = Path(__file__).resolve().parents[2] / "README.md"
STORE_ORIGIN = "https://saffronlane.example"  # the demo policy's website: the banner accepts its pages only
CALL = re.compile(r"`(?:(GET|POST|PUT|PATCH|DELETE) )?(/[^`\s]*)`")


def readme() -> str:
    return README.read_text(encoding="utf-8")


def bash_blocks(text: str) -> list[str]:
    return re.findall(r"^```bash\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """Shell commands of a block: comments dropped, `\\` continuations and multi-line quotes joined."""
    out: list[str] = []
    pending = ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line[:-1] + " " if line.endswith("\\") else line + "\n"
        if line.endswith("\\"):
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        out.append(pending.strip())
        pending = ""
    assert not pending, f"unterminated command in README: {pending!r}"
    return out


def readme_keys(text: str) -> dict[str, list[str]]:
    """Key name -> scopes, from every `fiduciary apikey create --name N --scopes a,b` in the README."""
    keys: dict[str, list[str]] = {}
    for block in bash_blocks(text):
        for command in commands(block):
            words = shlex.split(command, comments=True)
            if len(words) > 2 and words[0].endswith("fiduciary") and words[1:3] == ["apikey", "create"]:
                keys[words[words.index("--name") + 1]] = words[words.index("--scopes") + 1].split(",")
    return keys


def table_calls(text: str) -> list[tuple[str, str, str]]:
    """(method, path, key name) for every call in the README's main-calls table."""
    section = text[text.index("| call | key |") :]
    rows = [line for line in section.splitlines()[2:] if line.startswith("|")]
    calls = []
    for row in rows[: next((i for i, r in enumerate(rows) if not r.strip()), len(rows))]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        method = ""
        for m in CALL.finditer(cells[0]):
            method = m.group(1) or method  # "`POST /a`, `/b`": /b is a POST too
            calls.append((method, m.group(2), cells[1]))
    return calls


def key_variable(name: str) -> str:
    return name.upper().replace("-", "_") + "_KEY"


# ------------------------------------------------------------------------------------- running the calls


@dataclass
class Context:
    client: TestClient
    headers: dict[str, dict[str, str]]  # key name -> Authorization header
    person: str = ""
    seen: dict[str, Any] = field(default_factory=dict)


Request = tuple[dict[str, Any], dict[str, str]]  # (request kwargs, extra headers)


def _consent(ctx: Context) -> dict[str, Any]:
    return {
        "subject_id": ctx.person,
        "channel": "checkout",
        "actions": [{"purpose": "marketing.email", "action": "grant"}],
    }


# One request per README call, in the order a store would make them. Keys are (method, path as in README).
EXAMPLES: dict[tuple[str, str], Callable[[Context], Request]] = {
    ("POST", "/v1/people"): lambda ctx: ({"json": {"is_child": False}}, {}),
    ("PUT", "/v1/people/{id}/fields"): lambda ctx: (
        {
            "json": {
                "purpose_of_collection": "account",
                "source": "provided",
                "fields": {"identity.name": "Kabir Sethi", "contact.email": "kabir@example.com"},
                "identifiers": {"email": "kabir@example.com", "phone": "+919811122233"},
            }
        },
        {},
    ),
    ("POST", "/v1/people/{id}/fields/read"): lambda ctx: ({"json": {"purpose": "account"}}, {}),
    ("POST", "/v1/people/lookup"): lambda ctx: ({"json": {"kind": "email", "value": "kabir@example.com"}}, {}),
    ("POST", "/v1/consents"): lambda ctx: ({"json": _consent(ctx)}, {}),
    ("POST", "/v1/consents/batch"): lambda ctx: ({"json": {"items": [_consent(ctx)]}}, {}),
    ("POST", "/v1/banner/consents"): lambda ctx: (
        {"json": {"actions": [{"purpose": "analytics", "action": "deny"}]}},
        {"Origin": STORE_ORIGIN},
    ),
    ("POST", "/v1/decisions"): lambda ctx: (
        {"json": {"subject_id": ctx.person, "purpose": "marketing.email", "categories": ["contact.email"]}},
        {},
    ),
    ("POST", "/v1/audiences"): lambda ctx: ({"json": {"purpose": "marketing.email", "channel": "email"}}, {}),
    ("POST", "/v1/comms/unsubscribe-headers"): lambda ctx: (
        {"json": {"subject_id": ctx.person, "purpose": "marketing.email"}},
        {},
    ),
    ("POST", "/v1/requests"): lambda ctx: ({"json": {"kind": "erasure", "person_id": ctx.person}}, {}),
    ("GET", "/v1/requests"): lambda ctx: ({"params": {"person_id": ctx.person}}, {}),
    ("GET", "/v1/people/{id}/export"): lambda ctx: ({}, {}),
    ("GET", "/v1/audit"): lambda ctx: ({"params": {"person_id": ctx.person}}, {}),
    ("POST", "/v1/people/{id}/erase"): lambda ctx: ({"json": {"reason": "erasure_request"}}, {}),
}


def make_keys(session: Session, keys: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    headers = {}
    for name, scopes in keys.items():
        _, plaintext = create_api_key(session, name, scopes)
        headers[name] = {"Authorization": f"Bearer {plaintext}"}
    session.commit()
    return headers


def run_curl(client: TestClient, command: str, env: dict[str, str]) -> tuple[str | None, Any]:
    """Run one README curl through the test client; returns (variable assigned, if any, and the response)."""
    target = None
    assigned = re.match(r"^([A-Z_]+)=\$\((.*)\| *jq -r \.id\)$", command, re.DOTALL)
    if assigned:
        target, command = assigned.group(1), assigned.group(2)
    words = [re.sub(r"\$([A-Z_]+)", lambda m: env[m.group(1)], w) for w in shlex.split(command, comments=True)]
    assert words[0] == "curl", command
    method, url, headers, data = "GET", "", {}, None
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-X":
            method, i = words[i + 1], i + 2
        elif word == "-H":
            name, _, value = words[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 2
        elif word in ("-d", "--data"):
            data, i = words[i + 1], i + 2
        elif word == "-s":
            i += 1
        else:
            url, i = word, i + 1
    assert url.startswith(env["FIDUCIARY"]), command
    if data is not None:
        json.loads(data)  # the README's body is valid JSON as printed
    response = client.request(method, url[len(env["FIDUCIARY"]) :], content=data, headers=headers)
    return target, response


def test_the_readme_keys_can_make_every_readme_call(client: TestClient, session: Session) -> None:
    text = readme()
    keys = readme_keys(text)
    assert set(keys) == {"checkout", "privacy-ops"}, keys
    calls = table_calls(text)
    assert {(m, p) for m, p, _ in calls} == set(EXAMPLES), "README table and this test's requests differ"
    named = {k for _, _, k in calls}
    assert named <= set(keys) | {"none"}, named
    ctx = Context(client, make_keys(session, keys))
    order = list(EXAMPLES)
    for method, path, key in sorted(calls, key=lambda c: order.index((c[0], c[1]))):
        kwargs, extra = EXAMPLES[(method, path)](ctx)
        auth = ctx.headers[key] if key != "none" else {}
        url = path.replace("{id}", ctx.person)
        response = client.request(method, url, headers={**auth, **extra}, **kwargs)
        assert response.is_success, f"{method} {path} with the README's {key} key: {response.text}"
        if (method, path) == ("POST", "/v1/people"):
            ctx.person = response.json()["id"]


def test_the_readme_curl_example_runs_as_written(client: TestClient, session: Session) -> None:
    text = readme()
    keys = readme_keys(text)
    headers = make_keys(session, keys)
    env = {"FIDUCIARY": "http://127.0.0.1:8000"}
    env.update({key_variable(name): h["Authorization"].removeprefix("Bearer ") for name, h in headers.items()})
    curls = [c for block in bash_blocks(text) for c in commands(block) if "curl " in c]
    assert len(curls) >= 4
    written = []
    for command in curls:
        target, response = run_curl(client, command, env)
        assert response.is_success, f"{command}\n-> {response.status_code} {response.text}"
        if target:
            env[target] = response.json()["id"]
        written.append(response.json())
    # What the example promises: a person with an email and a phone (findable by both) and one more field.
    by_phone = client.post(
        "/v1/people/lookup", json={"kind": "phone", "value": "+919812345678"}, headers=headers["checkout"]
    )
    assert by_phone.json() == {"person_id": env["PERSON"]}
    stored = {c for w in written for c in w.get("categories", [])}
    assert {"contact.email", "contact.phone", "identity.date_of_birth"} <= stored
    assert written[-1]["fields"]["contact.email"] == "a****@example.com"  # masked for the support role


def test_the_parsers_see_what_the_readme_says() -> None:
    """The parsers themselves can fail: a README with a missing scope and an extra call is caught."""
    text = (
        "```bash\nfiduciary apikey create --name checkout --scopes people:write\n```\n\n"
        "| call | key | what | docs |\n|---|---|---|---|\n"
        "| `POST /v1/consents`, `/v1/consents/batch` | checkout | x | y |\n| `GET /v1/nope` | none | x | y |\n\nafter\n"
    )
    assert readme_keys(text) == {"checkout": ["people:write"]}
    assert table_calls(text) == [
        ("POST", "/v1/consents", "checkout"),
        ("POST", "/v1/consents/batch", "checkout"),
        ("GET", "/v1/nope", "none"),
    ]
    assert commands("# c\ncurl -s \\\n  -d '{\"a\":\n 1}'\nFOO=1\n") == ["curl -s    -d '{\"a\":\n 1}'", "FOO=1"]


@pytest.mark.parametrize("scopes", [["people:write", "consent:write", "decisions"]])
def test_the_old_readme_key_could_not(client: TestClient, session: Session, scopes: list[str]) -> None:
    """Issue 10's example: the README's earlier single key fails calls of its own table (lookup, reads, export)."""
    headers = make_keys(session, {"old": scopes})["old"]
    person = client.post("/v1/people", json={"is_child": False}, headers=headers).json()["id"]
    assert (
        client.post("/v1/people/lookup", json={"kind": "email", "value": "x@example.com"}, headers=headers).status_code
        == 403
    )
    assert client.get(f"/v1/people/{person}/export", headers=headers).status_code == 403

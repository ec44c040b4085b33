"""Consent event payloads and their canonical JSON text, built together.

Every consent event is one flat payload of known keys. The ledger would canonicalise each payload again
(`fiduciary.ledger.chain.canonical_payload`: check every key and value, sort, encode); for the write path's
one fixed shape the text is assembled directly, in key order, from values that validation has already
checked, and handed to `Ledger.append_texts`. `tests/consent/test_consent_payloads.py` proves, for arbitrary
values, that the text equals what the ledger's canonicaliser produces and that the ledger's guard refuses
exactly what it would refuse.

Keys (sorted, as RFC 8785 orders them): channel, guardian, ip_prefix, lang, notice, person, purpose, ref,
subject, ua, version. `ua` is the SHA-256 of the user agent and `ip_prefix` the truncated address
(`fiduciary.consent.evidence`); `ref` pseudonymises the idempotency key; `person` carries a withdrawal from a
linked visitor's device to the person (DPDP s.6(4)).
"""

from __future__ import annotations

import json
from typing import Any, Final

from fiduciary.consent.evidence import hash_user_agent
from fiduciary.ledger.chain import canonical_json

_encode: Final[Any] = getattr(json.encoder, "c_encode_basestring", None) or json.encoder.py_encode_basestring

Payload = dict[str, Any]


class _Checked(dict[str, str]):
    """A value's canonical JSON after the ledger's own checks (which refuse e.g. an email address), computed
    once per distinct value in a batch: languages, channels, purposes and address prefixes repeat."""

    def __missing__(self, value: str) -> str:
        text = self[value] = canonical_json(value, path="payload")
        return text


class PayloadWriter:
    """Builds the payloads of one batch of consent events under one policy version.

    Subject, guardian and person ids are encoded as they are: validation admits only `per_`/`vis_` ids of
    base32 characters (`fiduciary.people.service.SUBJECT_ID_RE`), which JSON never escapes and the ledger's
    guard always accepts. Every other free value goes through the ledger's own check (`_Checked`).
    """

    __slots__ = ("_checked", "_notice", "_ref", "_ref_member", "_tail", "_user_agents", "_version")

    def __init__(self, version: int, notice: str, ref: str | None) -> None:
        self._version = version
        self._notice = notice
        self._ref = ref
        self._checked = _Checked()
        self._user_agents: dict[str, str | None] = {}
        self._ref_member = ',"ref":' + self._checked[ref] if ref else ""
        self._tail = ',"version":' + canonical_json(version) + "}"

    def user_agent_hash(self, user_agent: str | None) -> str | None:
        if not user_agent:
            return None
        known = self._user_agents
        if user_agent in known:
            return known[user_agent]
        hashed = known[user_agent] = hash_user_agent(user_agent)
        return hashed

    def build(
        self,
        subject: str,
        purpose: str,
        language: str,
        channel: str,
        *,
        guardian: str | None = None,
        ua: str | None = None,
        ip_prefix: str | None = None,
        person: str | None = None,
    ) -> tuple[Payload, str]:
        """(payload, its canonical JSON text). `ua` is already hashed (`user_agent_hash`)."""
        checked = self._checked
        payload: Payload = {
            "subject": subject,
            "purpose": purpose,
            "version": self._version,
            "notice": self._notice,
            "lang": language,
            "channel": channel,
        }
        guardian_member = ip_member = person_member = ua_member = ""
        if guardian:
            payload["guardian"] = guardian
            guardian_member = ',"guardian":' + _encode(guardian)
        if ua:
            payload["ua"] = ua
            ua_member = ',"ua":' + checked[ua]
        if ip_prefix:
            payload["ip_prefix"] = ip_prefix
            ip_member = ',"ip_prefix":' + checked[ip_prefix]
        if self._ref:
            payload["ref"] = self._ref
        if person:
            payload["person"] = person
            person_member = ',"person":' + _encode(person)
        text = (
            f'{{"channel":{checked[channel]}{guardian_member}{ip_member},"lang":{checked[language]}'
            f',"notice":{checked[self._notice]}{person_member},"purpose":{checked[purpose]}{self._ref_member}'
            f',"subject":{_encode(subject)}{ua_member}{self._tail}'
        )
        return payload, text

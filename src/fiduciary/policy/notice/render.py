"""Render the privacy notice as a standalone HTML page, as Markdown, or as JSON, from one view model.

The notice is generated from the policy data, never hand-written per store (DPDP Rule 3(a): standalone and
understandable on its own). HTML is autoescaped and self-contained: inline CSS, no scripts, no external
assets, so it can be served under a strict Content-Security-Policy and saved or printed as it is.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Literal

from jinja2 import Environment, PackageLoader, StrictUndefined

from fiduciary.policy.notice.i18n import babel_locale, load_translations, resolve_language
from fiduciary.policy.notice.view import NoticeVersion, NoticeView, build_notice_view
from fiduciary.policy.notice.view.model import REGIONAL_KEYS
from fiduciary.policy.schema import PolicyDocument

NoticeFormat = Literal["html", "markdown", "json"]
FORMATS: tuple[NoticeFormat, ...] = ("html", "markdown", "json")

_TEMPLATES = {"html": "notice.html.j2", "markdown": "notice.md.j2"}


class MarkdownSafe(str):
    """Text already valid as Markdown (built by the template filters); the finaliser leaves it alone."""

    __slots__ = ()


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")
_MD_LINE_MARK = re.compile(r"^([-+=])")
_MD_LINE_NUMBER = re.compile(r"^(\d+)([.)])")
_WS = re.compile(r"\s+")


def markdown_escape(value: Any) -> str:
    """Make any value literal text in CommonMark/GFM: no emphasis, links, raw HTML or table breaks.

    Policy values are the store's words and may contain anything; a `<script>` or a `|` in a name must
    show as text, not become markup or split a table row. Newlines become spaces so a value stays in its
    table cell or list item.
    """
    if value is None:
        return ""
    if isinstance(value, MarkdownSafe):
        return value
    text = _WS.sub(" ", str(value)).strip()
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A value may open a line (a paragraph); a leading "- ", "1." or "=" would turn it into a list or heading.
    text = _MD_LINE_MARK.sub(r"\\\1", text)
    return MarkdownSafe(_MD_LINE_NUMBER.sub(r"\1\\\2", text))


def markdown_link(text: Any, url: str | None) -> MarkdownSafe:
    """`[text](<url>)`; the URL's angle brackets, parentheses and spaces are percent-encoded."""
    label = markdown_escape(text)
    if not url:
        return MarkdownSafe(label)
    safe_url = (
        str(url)
        .replace(" ", "%20")
        .replace("<", "%3C")
        .replace(">", "%3E")
        .replace("(", "%28")
        .replace(")", "%29")
        .replace("\n", "")
    )
    return MarkdownSafe(f"[{label}](<{safe_url}>)")


def _markdown_join(values: Sequence[Any], separator: str = ", ") -> MarkdownSafe:
    return MarkdownSafe(separator.join(markdown_escape(v) for v in values))


@lru_cache(maxsize=16)
def _environment(kind: Literal["html", "markdown"], language: str) -> Environment:
    """One environment per format and language, so translations are bound without shared mutable state."""
    env = Environment(
        loader=PackageLoader("fiduciary.policy.notice", "templates"),
        # Markdown is not HTML: its values are escaped by the Markdown finaliser below instead.
        autoescape=kind == "html",  # noqa: S701
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=markdown_escape if kind == "markdown" else None,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(load_translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.filters["md"] = markdown_escape
    env.filters["md_link"] = markdown_link
    env.filters["md_join"] = _markdown_join
    return env


def _without_empty_regional(items: list[tuple[str, Any]]) -> dict[str, Any]:
    return {k: v for k, v in items if not (k in REGIONAL_KEYS and v in (None, []))}


def view_to_dict(view: NoticeView) -> dict[str, Any]:
    """The view model as plain data, keys in declaration order (stable across runs). The per-jurisdiction
    keys are left out where empty, so a single-law policy's JSON is what it was before they existed."""
    return dataclasses.asdict(view, dict_factory=_without_empty_regional)


def build_view(
    document: PolicyDocument,
    *,
    history: Sequence[NoticeVersion] = (),
    language: str = "en",
    base_url: str | None = None,
    current: int | None = None,
) -> NoticeView:
    """The view model in a resolved language (an unknown language falls back to English)."""
    resolved = resolve_language(language)
    return build_notice_view(
        document,
        load_translations(resolved),
        language=resolved.replace("_", "-"),
        locale=babel_locale(resolved),
        history=history,
        current=current,
        base_url=base_url,
    )


def render_view(view: NoticeView, fmt: NoticeFormat) -> str:
    if fmt == "json":
        return json.dumps(view_to_dict(view), ensure_ascii=False, indent=2) + "\n"
    if fmt not in _TEMPLATES:
        raise ValueError(f"unknown notice format {fmt!r}; use one of {', '.join(FORMATS)}")
    language = resolve_language(view.language)
    template = _environment(fmt, language).get_template(_TEMPLATES[fmt])
    return template.render(notice=view)


def render_notice(
    document: PolicyDocument,
    fmt: NoticeFormat,
    *,
    history: Sequence[NoticeVersion] = (),
    language: str = "en",
    base_url: str | None = None,
    current: int | None = None,
) -> str:
    """The privacy notice for `document` in `fmt`.

    `history` lists published versions (any order); `current` is the version `document` is, defaulting to
    the newest in `history`; newer ones show as upcoming. With `base_url`, the notice links to the privacy
    center for rights ({base_url}/privacy-center) and consent withdrawal ({base_url}/privacy-center/consents)
    as DPDP Rule 3(c) requires; without it, those links point to the sections of the notice itself.
    """
    view = build_view(document, history=history, language=language, base_url=base_url, current=current)
    return render_view(view, fmt)

"""The privacy notice, generated from the policy data in HTML, Markdown and JSON, in several languages.

Public surface: `render_notice` (document → text), `build_view` (document → view model), `NoticeVersion`
and `notice_versions` (published versions → history rows), and the language helpers.
"""

from __future__ import annotations

from fiduciary.policy.notice.i18n import (
    DEFAULT_LANGUAGE,
    available_languages,
    load_translations,
    negotiate_language,
    resolve_language,
)
from fiduciary.policy.notice.render import (
    FORMATS,
    NoticeFormat,
    build_view,
    markdown_escape,
    render_notice,
    render_view,
    view_to_dict,
)
from fiduciary.policy.notice.view import NoticeVersion, NoticeView, build_notice_view, notice_versions

__all__ = [
    "DEFAULT_LANGUAGE",
    "FORMATS",
    "NoticeFormat",
    "NoticeVersion",
    "NoticeView",
    "available_languages",
    "build_notice_view",
    "build_view",
    "load_translations",
    "markdown_escape",
    "negotiate_language",
    "notice_versions",
    "render_notice",
    "render_view",
    "resolve_language",
    "view_to_dict",
]

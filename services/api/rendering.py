"""The pages' Jinja2 templates and how a page is rendered (used by the pages and by the
error handlers, which render the same templates for a page's errors)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from services.api import views
from shared.search.outcomes import TAG_THE_REST

HERE = Path(__file__).parent
STATIC = HERE / "static"

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    language_name=views.language_name,
    short_date=views.short_date,
    highlighted=views.highlighted,
    new_snippets=views.new_snippets,
    entity_labels=views.ENTITY_LABELS,
    safe_link=views.safe_link,
    tag_the_rest=TAG_THE_REST,
)


def _asset_version() -> str:
    """Changes whenever a page asset changes, so browsers never keep a stale stylesheet."""
    newest = max((p.stat().st_mtime_ns for p in STATIC.rglob("*") if p.is_file()), default=0)
    return str(newest % 10**10)


templates.env.globals["asset_version"] = _asset_version()


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@dataclass
class Page:
    """What a page route tells the error handlers (``request.state.page``): the template
    that shows its errors (with ``error`` added to ``context``), and its words for "the
    archive does not answer". Without one, errors render ``problem.html``."""

    template: str = "problem.html"
    context: dict[str, Any] = field(default_factory=dict)
    unavailable_title: str = "The page cannot be shown"
    unavailable_hint: str = "Start it with `make up`, then reload this page."

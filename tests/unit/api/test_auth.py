"""Who may change state, through TestClient against the app (our code: the token check, the
page's session and CSRF; no integrated system is involved).

Every POST/PUT/PATCH/DELETE route of the real app must depend on ``require_writer``: the walk
over ``app.routes`` fails for a new route without it. The behaviour is checked on a route
that only changes a counter, added to the real app with ``_: Writer`` as every
state-changing route takes it: no token, a wrong one, Bearer, a session with and without its
CSRF token, another site's form, the login's own guards and the wrong-token limit.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.auth import CSRF_HEADER, SESSION_COOKIE, Writer, local_path, require_writer, session_key
from services.api.errors import PAGES_TAG
from shared.settings import Settings

LOCAL = "http://127.0.0.1"
TOKEN = "tok-" + "x7Qp2" * 8
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# The two state-changing routes that cannot need the writer's right, and why.
NOT_WRITER_ROUTES = {
    "/login": "it is how a person becomes a writer: it checks the token itself (and its CSRF)",
    "/logout": "it only closes the caller's own session (its CSRF token is checked)",
}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings(**overrides: object) -> Settings:
    """Nothing listens for Elasticsearch and Redis: nothing here may need them."""
    values: dict[str, object] = {
        "elasticsearch_url": f"http://127.0.0.1:{_closed_port()}",
        "redis_url": f"redis://127.0.0.1:{_closed_port()}/0",
        "api_token": TOKEN,
    }
    return Settings(_env_file=None, **(values | overrides))  # type: ignore[arg-type]


@dataclass
class Changes:
    """What the probe routes changed: a request that reaches them was let through."""

    made: list[str] = field(default_factory=list)


def with_probes(app: FastAPI, changes: Changes) -> FastAPI:
    @app.post("/probe/api")
    def change(_: Writer) -> dict[str, int]:
        changes.made.append("api")
        return {"changes": len(changes.made)}

    @app.post("/probe/page", tags=[PAGES_TAG])
    def change_page(_: Writer) -> dict[str, int]:
        changes.made.append("page")
        return {"changes": len(changes.made)}

    return app


@pytest.fixture
def changes() -> Changes:
    return Changes()


@pytest.fixture
def client(changes: Changes) -> Iterator[TestClient]:
    yield TestClient(with_probes(create_app(settings()), changes), base_url=LOCAL)


def login(client: TestClient, token: str = TOKEN, next_path: str = "/") -> tuple[int, str]:
    """Log in as the page does: the form's CSRF token, then the token typed in."""
    page = client.get("/login")
    assert page.status_code == 200
    csrf = form_csrf(page.text)
    answer = client.post(
        "/login", data={"token": token, "csrf_token": csrf, "next": next_path}, follow_redirects=False
    )
    return answer.status_code, answer.headers.get("location", "")


def form_csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def session_csrf(client: TestClient) -> str:
    """The logged-in session's CSRF token, as its pages carry it (the header's log-out form)."""
    return form_csrf(client.get("/login").text)


# --- every state-changing route is guarded -------------------------------------------------------


def _depends_on(dependant: Dependant, call: object) -> bool:
    return any(dep.call is call or _depends_on(dep, call) for dep in dependant.dependencies)


def state_changing_routes(app: FastAPI) -> list[tuple[str, str, Dependant | None]]:
    """(methods, path, dependant) of every route taking POST/PUT/PATCH/DELETE, through the
    routers the app includes (FastAPI resolves them lazily: ``iter_route_contexts`` is what
    OpenAPI walks too, with a router's own dependencies in each route's dependant)."""
    found = []
    for route in iter_route_contexts(app.routes):
        methods = (route.methods or set()) & STATE_CHANGING
        if methods:
            dependant = getattr(route, "dependant", None)
            found.append((" ".join(sorted(methods)), str(route.path), dependant))
    return found


def unguarded_routes(app: FastAPI) -> list[str]:
    """A plain Starlette route (no dependant) cannot show the check, so it counts as unguarded."""
    return [
        f"{methods} {path}"
        for methods, path, dependant in state_changing_routes(app)
        if path not in NOT_WRITER_ROUTES and (dependant is None or not _depends_on(dependant, require_writer))
    ]


def test_every_state_changing_route_needs_the_writer():
    app = create_app(settings())
    assert unguarded_routes(app) == [], "a route changes state without `_: Writer`"
    # The routes not needing it exist (else the exemption hides nothing and should go).
    walked = {f"{methods} {path}" for methods, path, _ in state_changing_routes(app)}
    assert {f"POST {path}" for path in NOT_WRITER_ROUTES} <= walked
    # The walk reaches into every router: the API's, the pages' (and so any added later).
    assert {"POST /watches", "DELETE /watches/{name}", "POST /watch", "POST /watching/remove"} <= walked


def test_the_walk_finds_a_route_without_the_writer(changes):
    app = with_probes(create_app(settings()), changes)

    @app.delete("/probe/unguarded")
    def unguarded() -> None:
        changes.made.append("unguarded")

    assert unguarded_routes(app) == ["DELETE /probe/unguarded"]
    # ... and one in an included router, as the API's own routers are.
    router = APIRouter()

    @router.put("/probe/included")
    def included() -> None:
        changes.made.append("included")

    app.include_router(router)
    assert unguarded_routes(app) == ["DELETE /probe/unguarded", "PUT /probe/included"]


# --- the token ---------------------------------------------------------------------------------


def test_without_any_token_changes_are_refused_with_what_to_do(client, changes):
    answer = client.post("/probe/api")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in answer.json()["detail"] and "/login" in answer.json()["detail"]
    assert changes.made == []


def test_a_wrong_token_is_refused(client, changes):
    for wrong in ("nope", TOKEN + "x", TOKEN[:-1], TOKEN.upper()):
        answer = client.post("/probe/api", headers={"Authorization": f"Bearer {wrong}"})
        assert answer.status_code == 401, wrong
        assert "wrong" in answer.json()["detail"]
    assert client.post("/probe/api", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert changes.made == []


def test_the_bearer_token_is_enough_without_csrf(client, changes):
    answer = client.post("/probe/api", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and changes.made == ["api"]
    assert SESSION_COOKIE not in answer.cookies  # a program gets no session


def test_no_token_set_means_no_changes_at_all(changes):
    client = TestClient(with_probes(create_app(settings(api_token=None)), changes), base_url=LOCAL)
    answer = client.post("/probe/api", headers={"Authorization": "Bearer anything"})
    assert answer.status_code == 403 and "DATELINE_API_TOKEN" in answer.json()["detail"]
    page = client.get("/login")
    assert "no API token is set" in page.text and 'name="token"' not in page.text
    assert client.post("/login", data={"token": ""}).status_code == 403
    assert changes.made == []


def test_a_page_is_refused_in_words_with_a_way_to_log_in(client, changes):
    answer = client.post("/probe/page", headers={"Referer": f"{LOCAL}/?q=flood&lang=en"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert "Log in to make changes" in answer.text
    assert 'href="/login?next=%2F%3Fq%3Dflood%26lang%3Den"' in answer.text  # back to the search after
    assert changes.made == []


# --- the page's session --------------------------------------------------------------------------


def test_logging_in_opens_a_strict_httponly_session(client):
    csrf = form_csrf(client.get("/login").text)
    answer = client.post(
        "/login", data={"token": TOKEN, "csrf_token": csrf, "next": "/?q=flood"}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/?q=flood")
    header = answer.headers["set-cookie"]
    assert header.startswith(f"{SESSION_COOKIE}=") and TOKEN not in header
    flags = [part.strip().lower() for part in header.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "secure" not in flags
    # The pages now offer to log out (with the session's CSRF token), not to log in.
    page = client.get("/login")
    assert 'action="/logout"' in page.text and ">Log in</a>" not in page.text


def test_the_cookie_is_secure_when_the_site_is_https():
    client = TestClient(create_app(settings(public_url="https://news.example")), base_url=LOCAL)
    header = client.get("/login").headers["set-cookie"].lower()
    assert "secure" in [part.strip() for part in header.split(";")]


def test_a_session_with_its_csrf_token_may_change(client, changes):
    assert login(client)[0] == 303
    csrf = session_csrf(client)
    assert client.post("/probe/page", data={"csrf_token": csrf}).status_code == 200
    assert client.post("/probe/api", headers={CSRF_HEADER: csrf}).status_code == 200
    # A page's script finds the token in the page's head.
    assert f'<meta name="csrf-token" content="{csrf}">' in client.get("/login").text
    assert changes.made == ["page", "api"]


def test_a_session_without_its_csrf_token_is_refused(client, changes):
    assert login(client)[0] == 303
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "guessed"}):
        answer = client.post("/probe/page", data=data)
        assert answer.status_code == 403, data
        assert "The form has expired" in answer.text
    assert client.post("/probe/api", json={"csrf_token": session_csrf(client)}).status_code == 403
    assert "CSRF" in client.post("/probe/api").json()["detail"]
    assert changes.made == []


def test_another_sites_form_is_refused_even_with_the_token_in_it(client, changes):
    assert login(client)[0] == 303
    csrf = session_csrf(client)
    for headers in (
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:9999"},  # another port is another origin
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ):
        answer = client.post("/probe/page", data={"csrf_token": csrf}, headers=headers)
        assert answer.status_code == 403, headers
        assert "another site" in answer.text
    same = client.post(
        "/probe/page", data={"csrf_token": csrf}, headers={"Origin": LOCAL, "Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 200 and changes.made == ["page"]


def test_logging_out_ends_the_session(client, changes):
    assert login(client)[0] == 303
    csrf = session_csrf(client)
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403  # not from another site
    answer = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/")
    assert client.post("/probe/page", data={"csrf_token": csrf}).status_code == 401
    assert changes.made == []


def test_changing_the_token_logs_everyone_out(changes):
    app = with_probes(create_app(settings()), changes)
    client = TestClient(app, base_url=LOCAL)
    assert login(client)[0] == 303
    csrf = session_csrf(client)
    cookie = client.cookies[SESSION_COOKIE]
    other = TestClient(
        with_probes(create_app(settings(api_token="another-" + TOKEN)), changes), base_url=LOCAL
    )
    other.cookies.set(SESSION_COOKIE, cookie)
    assert other.post("/probe/page", data={"csrf_token": csrf}).status_code == 401
    assert changes.made == []
    assert session_key(TOKEN) != session_key("another-" + TOKEN) and TOKEN not in session_key(TOKEN)


def test_the_login_refuses_a_wrong_token_and_a_form_from_elsewhere(client, changes):
    status, _ = login(client, token="not-it")
    assert status == 401
    assert client.post("/probe/page", data={"csrf_token": "x"}).status_code == 401
    # Without the login page's own CSRF token (another site logging a visitor in): refused.
    fresh = TestClient(create_app(settings()), base_url=LOCAL)
    answer = fresh.post("/login", data={"token": TOKEN, "csrf_token": "forged"}, follow_redirects=False)
    assert answer.status_code == 403 and SESSION_COOKIE not in answer.cookies
    assert changes.made == []


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"]
)
def test_the_login_only_sends_people_back_to_this_site(client, target):
    assert login(client, next_path=target) == (303, "/")
    assert local_path("/?q=flood&lang=en") == "/?q=flood&lang=en"


def test_wrong_tokens_are_limited_per_address(changes):
    app = with_probes(create_app(settings(login_max_failures=3, login_failure_window_seconds=3600)), changes)
    client = TestClient(app, base_url=LOCAL)
    owner = TestClient(app, base_url=LOCAL)  # the same address, logged in before the guessing
    assert login(owner)[0] == 303
    assert login(client, token="guess-1")[0] == 401
    assert client.post("/probe/api", headers={"Authorization": "Bearer guess-2"}).status_code == 401
    assert login(client, token="guess-3")[0] == 401
    # Used up: even the right token is refused now, or the limit would reveal the right guess.
    answer = client.post("/probe/api", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) > 0
    assert "try again in" in answer.json()["detail"]
    assert login(client)[0] == 429
    assert changes.made == []
    # A session opened before still works: it proved the token once, it guesses nothing.
    assert owner.post("/probe/page", data={"csrf_token": session_csrf(owner)}).status_code == 200
    changes.made.clear()
    # Another address is not held back by this one's guesses.
    elsewhere = TestClient(app, base_url=LOCAL, client=("10.1.2.3", 50000))
    assert elsewhere.post("/probe/api", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_searching_stays_open(client):
    """Reading needs no token: the search page answers (503 here: nothing listens for
    Elasticsearch) without asking anyone to log in."""
    answer = client.get("/?q=flood")
    assert answer.status_code == 503 and "Log in to make changes" not in answer.text
    assert ">Log in</a>" in answer.text


def test_the_docs_offer_the_token_for_the_routes_that_need_it():
    """/docs (Swagger UI) shows "Authorize" and a lock on each route that changes state."""
    schema = create_app(settings()).openapi()
    assert schema["components"]["securitySchemes"]["API token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "DATELINE_API_TOKEN (in .env): every request that changes state needs it.",
    }
    assert schema["paths"]["/watches"]["post"]["security"] == [{"API token": []}]
    assert "security" not in schema["paths"]["/watches"]["get"]  # reading stays open

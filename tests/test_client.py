"""Tests for dfkit.client: request building, errors, retries, re-login, limits and redaction.

requests-mock replaces the transport adapter, so urllib3's Retry never runs under it: everything
about retries, Retry-After, timeouts and body limits runs over real sockets against
``FakeDatafiniti``, with the retry and poll sleeps patched out (and recorded).
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import orjson
import pytest
import requests

import dfkit
import dfkit.client as client_mod
from dfkit import (
    APIError,
    AuthenticationError,
    Client,
    DownloadCancelled,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ServerError,
    WaitTimeout,
)
from dfkit.testing import FakeDatafiniti

BASE = "https://api.datafiniti.co/v4"
TOKEN = "tok-1234567890abcdef"
DOWNLOAD = {"id": "847070", "status": "completed", "num_records": 10, "results": []}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    monkeypatch.delenv("DATAFINITI_API_URL", raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep dfkit asks for (retry backoff, Retry-After, wait polls), without sleeping."""
    slept: list[float] = []
    monkeypatch.setattr(client_mod, "_sleep", slept.append)
    return slept


@pytest.fixture
def fake() -> Iterator[FakeDatafiniti]:
    with FakeDatafiniti(downloads=[dict(DOWNLOAD)]) as server:
        yield server


@pytest.fixture
def client(fake: FakeDatafiniti, sleeps: list[float]) -> Iterator[Client]:
    with Client(fake.token, base_url=fake.url, timeout=(2, 2), max_retries=3) as c:
        yield c


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Construction and request building (requests-mock)


def test_token_and_base_url_from_environment(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any
) -> None:
    monkeypatch.setenv("DATAFINITI_API_TOKEN", f"  {TOKEN}\n")
    monkeypatch.setenv("DATAFINITI_API_URL", "https://example.test/v4/")
    requests_mock.get("https://example.test/v4/downloads", json=[DOWNLOAD])
    client = Client()
    assert client.base_url == "https://example.test/v4"
    assert client.downloads() == [DOWNLOAD]
    sent = requests_mock.last_request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"].startswith("dfkit")


def test_explicit_arguments_win_over_environment(
    monkeypatch: pytest.MonkeyPatch, requests_mock: Any
) -> None:
    monkeypatch.setenv("DATAFINITI_API_TOKEN", "from-env-token")
    monkeypatch.setenv("DATAFINITI_API_URL", "https://example.test/v4")
    requests_mock.get(f"{BASE}/downloads", json=[])
    assert Client(TOKEN, base_url=BASE).downloads() == []
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {TOKEN}"


def test_no_token_raises_a_helpful_authentication_error(requests_mock: Any) -> None:
    client = Client()
    with pytest.raises(AuthenticationError, match="DATAFINITI_API_TOKEN") as info:
        client.downloads()
    assert "Client.login" in str(info.value)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://api.datafiniti.co/v4",
        "http://10.0.0.5:8080/v4",
        "ftp://api.datafiniti.co/v4",
        "https://user:pw@api.datafiniti.co/v4",
        "https://api.datafiniti.co/v4?token=x",
        "not a url",
    ],
)
def test_unsafe_base_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"base_url|http") as info:
        Client(TOKEN, base_url=url)
    assert "pw@" not in str(info.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/v4", "http://localhost/v4", "http://[::1]/v4"]
)
def test_plain_http_is_allowed_for_loopback(url: str) -> None:
    assert Client(TOKEN, base_url=url).base_url == url


def test_token_with_control_characters_is_refused_without_echo() -> None:
    with pytest.raises(ValueError, match="control characters") as info:
        Client("abc\r\nX-Evil: 1")
    assert "Evil" not in str(info.value)


def test_repr_never_shows_the_token() -> None:
    client = Client(TOKEN, base_url=BASE)
    assert TOKEN not in repr(client)
    assert repr(client) == f"Client(base_url='{BASE}', token=set, login=False)"
    assert TOKEN not in repr(vars(client))


def test_downloads_accepts_records_wrapper(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/downloads", json={"records": [DOWNLOAD]})
    assert Client(TOKEN, base_url=BASE).downloads() == [DOWNLOAD]


@pytest.mark.parametrize(
    ("payload", "found"),
    [({"items": []}, "an object"), ("hello", "a string"), (3, "a number"), ([1], "records\\[0\\]")],
)
def test_downloads_wrong_shape_is_a_response_error(
    requests_mock: Any, payload: Any, found: str
) -> None:
    requests_mock.get(f"{BASE}/downloads", json=payload)
    with pytest.raises(ResponseError, match=found):
        Client(TOKEN, base_url=BASE).downloads()


def test_download_quotes_the_id_and_needs_an_object(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/downloads/a%2Fb", json=DOWNLOAD)
    assert Client(TOKEN, base_url=BASE).download("a/b") == DOWNLOAD
    requests_mock.get(f"{BASE}/downloads/1", json=[DOWNLOAD])
    with pytest.raises(ResponseError, match="expected a JSON object, got an array"):
        Client(TOKEN, base_url=BASE).download(1)


@pytest.mark.parametrize(
    ("data_type", "path"),
    [
        ("product", "products"),
        ("Products", "products"),
        ("business", "businesses"),
        ("businesses", "businesses"),
        ("property", "properties"),
        ("properties", "properties"),
        ("people", "people"),
    ],
)
@pytest.mark.parametrize("status", [200, 202])
def test_start_download_builds_the_search_post(
    requests_mock: Any, data_type: str, path: str, status: int
) -> None:
    answer = {"id": "1", "status": "queued", "results": []}
    requests_mock.post(f"{BASE}/{path}/search", json=answer, status_code=status)
    client = Client(TOKEN, base_url=BASE)
    result = client.start_download(data_type, "brand:Apple", num_records=50, format="csv")
    assert result == answer
    sent = requests_mock.last_request
    assert sent.method == "POST"
    assert sent.json() == {
        "query": "brand:Apple",
        "format": "CSV",
        "num_records": 50,
        "download": True,
    }
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_start_download_sends_view(requests_mock: Any) -> None:
    requests_mock.post(f"{BASE}/products/search", json={"id": "1"}, status_code=202)
    Client(TOKEN, base_url=BASE).start_download("product", "x", num_records=1, view="flat")
    assert requests_mock.last_request.json()["view"] == "flat"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_records": 0}, "positive integer"),
        ({"num_records": -5}, "positive integer"),
        ({"num_records": 2.5}, "positive integer"),
        ({"num_records": True}, "positive integer"),
        ({"num_records": "10"}, "positive integer"),
        ({"num_records": 10, "format": "xml"}, "format"),
        ({"num_records": 10, "data_type": "cars"}, "data_type"),
        ({"num_records": 10, "query": "  "}, "query"),
    ],
)
def test_start_download_validates_before_spending(
    requests_mock: Any, kwargs: dict[str, Any], match: str
) -> None:
    args = {"data_type": "products", "query": "brand:Apple", **kwargs}
    with pytest.raises(ValueError, match=match):
        Client(TOKEN, base_url=BASE).start_download(**args)
    assert requests_mock.call_count == 0


def test_start_download_requires_num_records() -> None:
    with pytest.raises(TypeError, match="num_records"):
        Client(TOKEN, base_url=BASE).start_download("products", "x")  # type: ignore[call-arg]


# ---------------------------------------------------------------------------------------------
# Status codes to errors (requests-mock)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, APIError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, APIError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServerError),
        (504, ServerError),
    ],
)
def test_status_maps_to_error_class(requests_mock: Any, status: int, cls: type[APIError]) -> None:
    body = {
        "error": "Bad Request",
        "message": "numRequested cannot be <= 0",
        "code": status,
        "details": [{"field": "num_records", "message": "must be > 0"}],
    }
    requests_mock.get(f"{BASE}/downloads/5", json=body, status_code=status)
    with pytest.raises(APIError) as info:
        Client(TOKEN, base_url=BASE).download(5)
    err = info.value
    assert type(err) is cls
    assert isinstance(err, dfkit.DfkitError)
    assert err.status == status
    assert err.error == "Bad Request"
    assert err.message == "numRequested cannot be <= 0"
    assert err.details == [{"field": "num_records", "message": "must be > 0"}]
    assert str(status) in str(err) and "GET /downloads/5" in str(err)


def test_rate_limit_error_carries_retry_after(requests_mock: Any) -> None:
    requests_mock.get(f"{BASE}/downloads", status_code=429, headers={"Retry-After": "12"}, text="")
    with pytest.raises(RateLimitError) as info:
        Client(TOKEN, base_url=BASE).downloads()
    assert info.value.retry_after == 12.0


def test_error_with_html_body_keeps_a_short_snippet(requests_mock: Any) -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 5000 + "</body></html>"
    requests_mock.get(f"{BASE}/downloads", status_code=502, text=html, reason="Bad Gateway")
    with pytest.raises(ServerError) as info:
        Client(TOKEN, base_url=BASE).downloads()
    assert info.value.error == "Bad Gateway"
    assert "<h1>502 Bad Gateway</h1>" in info.value.message
    assert len(info.value.message) <= 200


@pytest.mark.parametrize(
    ("body", "headers", "match"),
    [
        (b"<!DOCTYPE html><html>maintenance</html>", {"Content-Type": "text/html"}, "HTML"),
        (b'<?xml version="1.0"?><Error/>', {"Content-Type": "application/xml"}, "XML"),
        (b"", {}, "empty"),
        (b"   \n", {}, "empty"),
        (b'[{"id": "1"', {}, "not valid JSON"),
    ],
)
def test_unusable_success_bodies_are_response_errors(
    requests_mock: Any, body: bytes, headers: dict[str, str], match: str
) -> None:
    requests_mock.get(f"{BASE}/downloads", content=body, headers=headers)
    with pytest.raises(ResponseError, match=match):
        Client(TOKEN, base_url=BASE).downloads()


def test_content_length_over_the_limit_is_refused_unread(requests_mock: Any) -> None:
    big = str(2 * 1024**3 + 1)
    requests_mock.get(f"{BASE}/downloads", content=b"[]", headers={"Content-Length": big})
    with pytest.raises(ResponseError, match="over the 2,147,483,648-byte limit"):
        Client(TOKEN, base_url=BASE).downloads()


def test_error_message_never_echoes_the_token(requests_mock: Any) -> None:
    requests_mock.get(
        f"{BASE}/downloads",
        status_code=401,
        json={"error": "Unauthorized", "message": f"token {TOKEN} is not valid"},
    )
    with pytest.raises(AuthenticationError) as info:
        Client(TOKEN, base_url=BASE).downloads()
    text = "".join(traceback.format_exception(info.value))
    assert TOKEN not in text
    assert "token *** is not valid" in str(info.value)
    assert "check the token (DATAFINITI_API_TOKEN)" in str(info.value)


def test_cross_origin_redirect_drops_the_token(requests_mock: Any) -> None:
    requests_mock.get(
        f"{BASE}/downloads", status_code=302, headers={"Location": "https://elsewhere.test/d"}
    )
    requests_mock.get("https://elsewhere.test/d", json=[])
    assert Client(TOKEN, base_url=BASE).downloads() == []
    first, second = requests_mock.request_history
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Authorization" not in second.headers


def test_netrc_cannot_replace_the_token(
    requests_mock: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine api.datafiniti.co login netrc-user password netrc-pass\n"
        "machine files.test login netrc-user password netrc-pass\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert requests.utils.get_netrc_auth("https://files.test/x") == ("netrc-user", "netrc-pass")
    requests_mock.get(f"{BASE}/downloads", json=[])
    requests_mock.get("https://files.test/1_0.csv", text="id\n")
    client = Client(TOKEN, base_url=BASE)
    client.downloads()
    assert requests_mock.last_request.headers["Authorization"] == f"Bearer {TOKEN}"
    client.open_result("https://files.test/1_0.csv?X-Amz-Signature=abc").close()
    assert "Authorization" not in requests_mock.last_request.headers


def test_files_session_refuses_cookies_and_auth(requests_mock: Any) -> None:
    requests_mock.get("https://files.test/a.csv", text="x", headers={"Set-Cookie": "s=1; Path=/"})
    client = Client(TOKEN, base_url=BASE)
    client.open_result("https://files.test/a.csv", headers={"Authorization": "Bearer x"}).close()
    client.open_result("https://files.test/a.csv").close()
    assert len(client.files_session.cookies) == 0
    assert all("Authorization" not in r.headers for r in requests_mock.request_history)
    assert all("Cookie" not in r.headers for r in requests_mock.request_history)
    with pytest.raises(ValueError, match="scheme"):
        client.open_result("file:///etc/passwd")


def test_passed_session_is_used_and_not_closed(requests_mock: Any) -> None:
    session = requests.Session()
    session.headers["X-Trace"] = "1"
    requests_mock.get(f"{BASE}/downloads", json=[])
    with Client(TOKEN, base_url=BASE, session=session) as client:
        client.downloads()
    assert requests_mock.last_request.headers["X-Trace"] == "1"
    closed: list[bool] = []
    session.close = lambda: closed.append(True)  # type: ignore[method-assign]
    Client(TOKEN, base_url=BASE, session=session).close()
    assert closed == []


def test_close_closes_own_sessions() -> None:
    client = Client(TOKEN, base_url=BASE)
    calls: list[str] = []
    client.session.close = lambda: calls.append("api")  # type: ignore[method-assign]
    client.files_session.close = lambda: calls.append("files")  # type: ignore[method-assign]
    with client:
        pass
    assert sorted(calls) == ["api", "files"]


# ---------------------------------------------------------------------------------------------
# wait (requests-mock; the clock and the sleep are patched)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(client_mod, "_monotonic", c.monotonic)
    monkeypatch.setattr(client_mod, "_sleep", c.sleep)
    return c


def _states(*statuses: str) -> list[dict[str, Any]]:
    return [
        {"json": {"id": "9", "status": s, "num_records": 100, "num_downloaded": 50 * i}}
        for i, s in enumerate(statuses)
    ]


def test_wait_polls_until_completed(requests_mock: Any, clock: Clock) -> None:
    requests_mock.get(f"{BASE}/downloads/9", _states("queued", "running", "completed"))
    final = Client(TOKEN, base_url=BASE).wait("9", poll_interval=5, progress=False)
    assert final["status"] == "completed"
    assert requests_mock.call_count == 3
    assert clock.sleeps == [5, 5]


def test_wait_raises_on_cancelled(requests_mock: Any, clock: Clock) -> None:
    requests_mock.get(f"{BASE}/downloads/9", _states("running", "cancelled"))
    with pytest.raises(DownloadCancelled) as info:
        Client(TOKEN, base_url=BASE).wait(9, poll_interval=1, progress=False)
    assert info.value.download is not None
    assert info.value.download["status"] == "cancelled"


def test_wait_timeout_carries_the_last_object(requests_mock: Any, clock: Clock) -> None:
    requests_mock.get(f"{BASE}/downloads/9", json={"id": "9", "status": "running"})
    with pytest.raises(WaitTimeout) as info:
        Client(TOKEN, base_url=BASE).wait(9, timeout=12, poll_interval=5, progress=False)
    assert info.value.last == {"id": "9", "status": "running"}
    assert isinstance(info.value, TimeoutError)
    # Never sleeps past the deadline: 5 + 5 + 2, then one last look.
    assert clock.sleeps == [5, 5, 2]
    assert requests_mock.call_count == 4


def test_wait_progress_bar_when_asked(
    requests_mock: Any, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    requests_mock.get(f"{BASE}/downloads/9", _states("queued", "running", "completed"))
    Client(TOKEN, base_url=BASE).wait(9, poll_interval=0, progress=True)
    err = capsys.readouterr().err
    assert "download 9" in err
    assert "100/100" in err


def test_wait_progress_default_follows_the_terminal(
    requests_mock: Any, clock: Clock, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    requests_mock.get(f"{BASE}/downloads/9", _states("running", "completed"))
    monkeypatch.setattr(client_mod, "_interactive", lambda: False)
    Client(TOKEN, base_url=BASE).wait(9, poll_interval=0)
    assert capsys.readouterr().err == ""
    requests_mock.get(f"{BASE}/downloads/9", _states("running", "completed"))
    monkeypatch.setattr(client_mod, "_interactive", lambda: True)
    Client(TOKEN, base_url=BASE).wait(9, poll_interval=0)
    assert "download 9" in capsys.readouterr().err


def test_interactive_is_false_under_pytest_capture() -> None:
    assert client_mod._interactive() is False


# ---------------------------------------------------------------------------------------------
# Retries over real sockets (FakeDatafiniti)


def test_get_retries_503_then_succeeds(
    fake: FakeDatafiniti, client: Client, sleeps: list[float]
) -> None:
    fake.inject("/downloads", status=503, times=2)
    assert client.downloads()[0]["id"] == "847070"
    assert len(fake.requests_to("/downloads")) == 3
    # urllib3 retries the first failure at once, then backs off 0.5 * 2**1 + jitter in [0, 0.5).
    assert len(sleeps) == 1
    assert 1.0 <= sleeps[0] < 1.5


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_gives_up_after_max_retries(
    fake: FakeDatafiniti, client: Client, sleeps: list[float], status: int
) -> None:
    fake.inject("/downloads", status=status, times=50)
    with pytest.raises(APIError) as info:
        client.downloads()
    assert info.value.status == status
    assert isinstance(info.value, RateLimitError if status == 429 else ServerError)
    assert len(fake.requests_to("/downloads")) == 1 + client.max_retries
    backoffs = [s for s in sleeps if s]
    assert len(backoffs) == client.max_retries - 1
    assert all(0.5 * 2**k <= s < 0.5 * 2**k + 0.5 for k, s in enumerate(backoffs, start=1))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_other_4xx_are_not_retried(fake: FakeDatafiniti, client: Client, status: int) -> None:
    fake.inject("/downloads", status=status, times=5)
    with pytest.raises(APIError):
        client.downloads()
    assert len(fake.requests_to("/downloads")) == 1


def test_max_retries_zero_means_one_attempt(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    fake.inject("/downloads", status=503, times=5)
    with pytest.raises(ServerError), Client(fake.token, base_url=fake.url, max_retries=0) as c:
        c.downloads()
    assert len(fake.requests_to("/downloads")) == 1


def _http_date(delta: timedelta) -> str:
    return format_datetime(datetime.now(timezone.utc) + delta, usegmt=True)


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("7", 7, 7),
        ("0", None, None),  # nothing to wait for: the (first, immediate) backoff applies
        ("3600", 60, 60),  # capped
        (lambda: _http_date(timedelta(seconds=30)), 27, 31),
        (lambda: _http_date(timedelta(days=2)), 60, 60),  # capped
        (lambda: _http_date(timedelta(seconds=-300)), None, None),  # in the past
        ("soon", None, None),  # garbage: falls back to the backoff instead of crashing
        ("Wed, 99 Foo 2025 99:99:99 GMT", None, None),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_forms(
    fake: FakeDatafiniti,
    client: Client,
    sleeps: list[float],
    retry_after: Any,
    low: float | None,
    high: float | None,
    status: int,
) -> None:
    value = retry_after() if callable(retry_after) else retry_after
    fake.inject("/downloads", status=status, retry_after=value)
    assert client.downloads()[0]["id"] == "847070"
    assert len(fake.requests_to("/downloads")) == 2
    if low is None or high is None:
        assert sleeps == []  # the first retry's backoff is 0
    else:
        assert len(sleeps) == 1
        assert low <= sleeps[0] <= high


def test_garbage_retry_after_on_later_retries_uses_jittered_backoff(
    fake: FakeDatafiniti, client: Client, sleeps: list[float]
) -> None:
    fake.inject("/downloads", status=503, retry_after="later, maybe", times=3)
    client.downloads()
    assert len(sleeps) == 2
    assert 1.0 <= sleeps[0] < 1.5 and 2.0 <= sleeps[1] < 2.5


def test_rate_limit_after_retries_reports_retry_after(
    fake: FakeDatafiniti, client: Client, sleeps: list[float]
) -> None:
    fake.inject("/downloads", status=429, retry_after=5, times=10)
    with pytest.raises(RateLimitError) as info:
        client.downloads()
    assert info.value.retry_after == 5.0
    assert sleeps == [5.0] * client.max_retries


def test_get_read_timeout_is_retried_then_network_error(
    fake: FakeDatafiniti, sleeps: list[float]
) -> None:
    fake.inject("/downloads", status=None, delay=2, times=10)
    c = Client(fake.token, base_url=fake.url, timeout=(2, 0.2), max_retries=2)
    with c, pytest.raises(NetworkError, match="no answer within the read timeout") as info:
        c.downloads()
    assert len(fake.requests_to("/downloads")) == 3
    assert info.value.__suppress_context__


def test_slow_answer_within_the_timeout_is_fine(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    fake.inject("/downloads", status=None, delay=0.2)
    with Client(fake.token, base_url=fake.url, timeout=(2, 2)) as c:
        assert c.downloads()[0]["id"] == "847070"
    assert len(fake.requests_to("/downloads")) == 1


def test_connection_refused_is_a_network_error(sleeps: list[float]) -> None:
    port = free_port()
    c = Client(TOKEN, base_url=f"http://127.0.0.1:{port}/v4", max_retries=2)
    with c, pytest.raises(NetworkError, match="connection failed"):
        c.downloads()
    # The connect retries happened (the 2nd and 3rd attempts back off).
    assert len([s for s in sleeps if s]) == 1


# --- POSTs that may start a paid download ---------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
def test_search_post_is_not_retried_after_5xx(
    fake: FakeDatafiniti, client: Client, status: int
) -> None:
    fake.inject("/products/search", status=status, times=5)
    with pytest.raises(ServerError):
        client.start_download("products", "brand:Apple", num_records=10)
    assert len(fake.requests_to("/products/search")) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_search_post_is_retried_on_429_and_503(
    fake: FakeDatafiniti, client: Client, status: int
) -> None:
    fake.inject("/products/search", status=status, times=2)
    d = client.start_download("products", "brand:Apple", num_records=10)
    assert d["status"] == "queued"
    assert len(fake.requests_to("/products/search")) == 3
    assert len([x for x in fake.downloads.values() if x.get("query") == "brand:Apple"]) == 1


def test_search_post_read_timeout_is_not_retried(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    fake.inject("/businesses/search", status=None, delay=1, times=5)
    c = Client(fake.token, base_url=fake.url, timeout=(2, 0.2), max_retries=3)
    with c, pytest.raises(NetworkError, match="read timeout"):
        c.start_download("business", "city:Austin", num_records=5)
    assert len(fake.requests_to("/businesses/search")) == 1


def test_auth_post_is_not_retried_after_500(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    fake.inject("/auth", status=500, times=5)
    with pytest.raises(ServerError):
        Client.login("a@b.c", "pw-123456", base_url=fake.url)
    assert len(fake.requests_to("/auth")) == 1


def test_auth_post_is_retried_on_503(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    fake.inject("/auth", status=503)
    with Client.login("a@b.c", "pw-123456", base_url=fake.url) as c:
        assert c.downloads()
    assert len(fake.requests_to("/auth")) == 2


# --- login and re-login -----------------------------------------------------------------------


def test_login_posts_credentials_and_uses_the_token(sleeps: list[float]) -> None:
    with FakeDatafiniti(email="me@x.io", password="hunter2-secret") as fake:
        with Client.login("me@x.io", "hunter2-secret", base_url=fake.url) as c:
            assert c.downloads() == []
        auth = fake.requests_to("/auth")
        assert auth[0].json() == {"email": "me@x.io", "password": "hunter2-secret"}
        assert fake.requests_to("/downloads")[0].headers["Authorization"] == f"Bearer {fake.token}"


def test_login_with_wrong_password(sleeps: list[float]) -> None:
    fake = FakeDatafiniti(email="me@x.io", password="right-password")
    with fake, pytest.raises(AuthenticationError) as info:
        Client.login("me@x.io", "wrong-password", base_url=fake.url)
    assert "wrong-password" not in str(info.value)
    assert "Invalid email or password" in str(info.value)
    assert "DATAFINITI_API_TOKEN" not in str(info.value)  # the token hint is for other calls


def test_login_ignores_token_from_environment(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    monkeypatch.setenv("DATAFINITI_API_TOKEN", "stale-env-token")
    with FakeDatafiniti() as fake, Client.login("a@b.c", "pw-123456", base_url=fake.url) as c:
        c.downloads()
        assert fake.requests_to("/auth")[0].headers.get("Authorization") is None
        assert fake.requests_to("/downloads")[0].headers["Authorization"] == f"Bearer {fake.token}"


def test_401_relogs_in_once_and_replays(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    with Client.login("a@b.c", "pw-123456", base_url=fake.url) as c:
        fake.expire_token()
        assert c.downloads()[0]["id"] == "847070"
        # And the search POST is replayed too (a 401 means it was not executed).
        fake.expire_token()
        c.start_download("products", "x", num_records=1)
    assert len(fake.requests_to("/auth")) == 3
    assert len(fake.requests_to("/downloads")) == 2
    assert len(fake.requests_to("/products/search")) == 2
    assert len([d for d in fake.downloads.values() if d.get("query") == "x"]) == 1


def test_second_401_raises(fake: FakeDatafiniti, sleeps: list[float]) -> None:
    with Client.login("a@b.c", "pw-123456", base_url=fake.url) as c:
        fake.inject("/downloads", status=401, times=5)
        with pytest.raises(AuthenticationError):
            c.downloads()
    assert len(fake.requests_to("/auth")) == 2
    assert len(fake.requests_to("/downloads")) == 2


def test_401_without_login_is_not_retried(fake: FakeDatafiniti, client: Client) -> None:
    fake.expire_token()
    with pytest.raises(AuthenticationError):
        client.downloads()
    assert len(fake.requests_to("/downloads")) == 1
    assert fake.requests_to("/auth") == []


# --- body limits and broken bodies over sockets ------------------------------------------------


def test_body_over_limit_by_content_length(
    fake: FakeDatafiniti, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "max_body_bytes", 40)
    read: list[requests.Response] = []

    def never(response: requests.Response) -> Iterator[bytes]:
        read.append(response)
        yield b""

    monkeypatch.setattr(client_mod, "_iter_content", never)
    with pytest.raises(ResponseError, match=r"is 6\d bytes, over the 40-byte limit"):
        client.downloads()
    assert read == []  # refused on the header alone


def test_body_limit_is_an_argument_with_a_default_for_a_large_account(
    fake: FakeDatafiniti,
) -> None:
    assert Client(fake.token, base_url=fake.url).max_body_bytes >= 2 * 1024**3
    small = Client(fake.token, base_url=fake.url, max_body_bytes=10)
    with small, pytest.raises(ResponseError, match="over the 10-byte limit"):
        small.downloads_json()
    with pytest.raises(ValueError, match="max_body_bytes"):
        Client(fake.token, base_url=fake.url, max_body_bytes=0)


def test_downloads_json_is_the_body_unparsed(fake: FakeDatafiniti, client: Client) -> None:
    raw = client.downloads_json()
    assert isinstance(raw, bytes) and orjson.loads(raw) == client.downloads()


def test_body_over_limit_while_streaming(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    real = client_mod._iter_content

    def counting(response: requests.Response) -> Iterator[bytes]:
        for chunk in real(response):
            read.append(len(chunk))
            yield chunk

    monkeypatch.setattr(client_mod, "_iter_content", counting)
    many = dfkit.sample_downloads() * 3
    with FakeDatafiniti(downloads=[{**d, "id": str(i)} for i, d in enumerate(many)]) as fake:
        fake.inject("/downloads", status=None, chunked=True)
        with Client(fake.token, base_url=fake.url, max_body_bytes=100_000) as c:
            with pytest.raises(ResponseError, match="over the 100,000-byte limit; stopped"):
                c.downloads()
            full = len(requests.get(fake.url + "/downloads", headers=_bearer(fake)).content)
    assert full > 300_000
    assert 100_000 < sum(read) < full


def _bearer(fake: FakeDatafiniti) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.token}"}


def test_body_under_limit_while_streaming(fake: FakeDatafiniti, client: Client) -> None:
    fake.inject("/downloads", status=None, chunked=True)
    assert client.downloads()[0]["id"] == "847070"


def test_truncated_body_is_a_response_error(fake: FakeDatafiniti, client: Client) -> None:
    fake.inject("/downloads/847070", status=None, truncate=True)
    with pytest.raises(ResponseError, match="cut off"):
        client.download("847070")


def test_html_200_is_a_response_error(fake: FakeDatafiniti, client: Client) -> None:
    fake.inject("/downloads", status=None, body="<html><title>Maintenance</title></html>")
    with pytest.raises(ResponseError, match=r"expected JSON, got HTML \(text/html"):
        client.downloads()


# ---------------------------------------------------------------------------------------------
# Redaction: caplog at DEBUG for every logger


def test_secrets_never_reach_logs_messages_or_tracebacks(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)  # the root: every logger without its own level
    password = "pa55-w0rd-very-secret"
    with FakeDatafiniti(email="me@x.io", password=password) as fake:
        fake.add_download(
            {
                "id": "5",
                "status": "completed",
                "format": "CSV",
                "data_type": "business",
                "num_records": 3,
                "results": ["x"],
            }
        )
        with Client.login("me@x.io", password, base_url=fake.url) as c:
            token = fake.token
            fake.inject("/downloads", status=503)  # urllib3 logs the retry
            c.downloads()
            fake.expire_token()  # a 401, a re-login, a new token
            c.download(5)
            new_token = fake.token
            url = c.download(5)["results"][0]
            signature = url.split("X-Amz-Signature=")[1]
            fake.inject("/s3/*", status=503)  # urllib3 logs the file URL on retry
            with c.open_result(url) as r:
                assert r.ok
            fake.inject("/downloads", status=401, body=f'{{"message": "bad {new_token}"}}', times=2)
            with pytest.raises(AuthenticationError) as auth_info:
                c.downloads()
            logging.getLogger("dfkit.client").debug("echo %s %s", new_token, url)

        dead = f"http://127.0.0.1:{free_port()}/s3/1_0.csv?X-Amz-Signature={signature}"
        with Client(new_token, base_url=fake.url, max_retries=1) as c2:
            with pytest.raises(NetworkError) as net_info:
                c2.open_result(dead)
            logging.getLogger("urllib3.connectionpool").warning("late %s", dead)

    secrets = [password, token, new_token, signature]
    records = caplog.records
    assert any(r.name.startswith("urllib3") for r in records), "urllib3 logged nothing?"
    assert any("?<redacted>" in r.getMessage() for r in records if r.name.startswith("urllib3"))
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, (record.name, text)
    for secret in secrets:
        assert secret not in caplog.text
    for info in (auth_info, net_info):
        shown = "".join(traceback.format_exception(info.value))
        assert all(secret not in shown for secret in secrets), shown
        assert all(secret not in repr(info.value) for secret in secrets)
    assert "?<redacted>" in str(net_info.value)


def test_redact_masks_query_strings_and_bearer_tokens() -> None:
    text = client_mod.redact(
        "GET /s3/1_0.csv?X-Amz-Signature=deadbeef HTTP/1.1 and "
        "'https://h/x?a=1&b=2' Authorization: Bearer abc.def-ghi"
    )
    assert "deadbeef" not in text and "a=1" not in text and "abc.def" not in text
    assert text.count("?<redacted>") == 2
    assert client_mod.redact("what? nothing here") == "what? nothing here"

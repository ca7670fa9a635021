"""Tests for dfkit.transport: answers to errors, redirects, retries, deadlines and body limits.

requests-mock replaces the transport adapter, so urllib3's Retry never runs under it: everything
about retries, Retry-After, timeouts and body limits runs over real sockets against
``FakeDatafiniti``, with the retry sleeps patched out (and recorded).
"""

from __future__ import annotations

import traceback
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any

import pytest
import requests
import urllib3.response

import dfkit
from dfkit import (
    APIError,
    AuthenticationError,
    Client,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from dfkit.testing import FakeDatafiniti

pytestmark = pytest.mark.usefixtures("clean_env")

BASE = "https://api.datafiniti.co/v4"
TOKEN = "tok-1234567890abcdef"
DOWNLOAD = {"id": "847070", "status": "completed", "num_records": 10, "results": []}


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


def test_connection_refused_is_a_network_error(sleeps: list[float], free_port: int) -> None:
    port = free_port
    c = Client(TOKEN, base_url=f"http://127.0.0.1:{port}/v4", max_retries=2)
    with c, pytest.raises(NetworkError, match="connection refused"):
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


# --- body limits and broken bodies over sockets ------------------------------------------------


def test_body_over_limit_by_content_length(
    fake: FakeDatafiniti, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "max_body_bytes", 40)
    read: list[int | None] = []

    def never(self: Any, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        read.append(amt)
        return b""

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read1", never)
    with pytest.raises(ResponseError, match=r"is 6\d bytes, over the 40-byte limit"):
        client.downloads()
    assert read == []  # refused on the header alone


def test_body_over_limit_while_streaming(
    sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    real = urllib3.response.HTTPResponse.read1

    def counting(self: Any, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        chunk = real(self, amt, decode_content)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read1", counting)
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


def test_gzip_encoded_answer_is_decoded(fake: FakeDatafiniti, client: Client) -> None:
    fake.inject("/downloads", status=None, gzip=True)
    assert client.downloads()[0]["id"] == "847070"
    assert "gzip" in fake.requests_to("/downloads")[0].headers["Accept-Encoding"]

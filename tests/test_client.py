"""Tests for dfkit.client: construction, request building, wait, login and re-login.

The network layer beneath (retries, redirects, errors, limits) is tests/test_transport.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from dfkit import (
    AuthenticationError,
    Client,
    DownloadCancelled,
    ResponseError,
    WaitTimeout,
)
from dfkit.progress import interactive
from dfkit.testing import FakeDatafiniti

if TYPE_CHECKING:
    from conftest import Clock  # the fixture's type (tests/conftest.py)

pytestmark = pytest.mark.usefixtures("clean_env")

BASE = "https://api.datafiniti.co/v4"
TOKEN = "tok-1234567890abcdef"
DOWNLOAD = {"id": "847070", "status": "completed", "num_records": 10, "results": []}


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
# wait (requests-mock; the clock and the sleep are patched)


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
    monkeypatch.setattr("dfkit.client.interactive", lambda: False)
    Client(TOKEN, base_url=BASE).wait(9, poll_interval=0)
    assert capsys.readouterr().err == ""
    requests_mock.get(f"{BASE}/downloads/9", _states("running", "completed"))
    monkeypatch.setattr("dfkit.client.interactive", lambda: True)
    Client(TOKEN, base_url=BASE).wait(9, poll_interval=0)
    assert "download 9" in capsys.readouterr().err


def test_interactive_is_false_under_pytest_capture() -> None:
    assert interactive() is False


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

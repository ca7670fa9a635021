"""What an attacker (a hostile redirect, a server echoing secrets, ANSI in API strings) finds.

Every test runs over real sockets against ``FakeDatafiniti`` (a second one plays the other
origin); host names other than loopback resolve to 127.0.0.1 through a patched
``socket.getaddrinfo`` that records every name looked up, so a test can assert that a refused
hop was never even resolved.
"""

from __future__ import annotations

import http.client
import logging
import socket
import tempfile
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

import dfkit
from dfkit import APIError, AuthenticationError, Client, DfkitWarning, NetworkError
from dfkit.cli import main
from dfkit.redaction import printable
from dfkit.testing import FakeDatafiniti

pytestmark = pytest.mark.usefixtures("clean_env", "sleeps")

PASSWORD = "pa55  w0rd/very+secret"  # two spaces, a slash and a plus: echoes change them


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Host names looked up; names under ``.example`` resolve to 127.0.0.1."""
    seen: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(str(host))
        if str(host).endswith(".example"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return seen


@pytest.fixture
def other() -> Iterator[FakeDatafiniti]:
    """Another origin, recording whatever reaches it."""
    with FakeDatafiniti() as server:
        yield server


# --- redirects on the POSTs ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [307, 308])
def test_auth_redirect_is_never_followed(status: int, other: FakeDatafiniti) -> None:
    with FakeDatafiniti(email="me@x.io", password=PASSWORD) as fake:
        for target in (other.url + "/auth", fake.url + "/auth"):  # another origin, the same
            fake.inject("/auth", status=status, headers={"Location": target})
            with pytest.raises(APIError, match=rf"{status} redirect .* not followed") as info:
                Client.login("me@x.io", PASSWORD, base_url=fake.url)
            assert info.value.status == status
            assert len(fake.requests_to("/auth")) in (1, 2)
    assert other.requests == []  # the password never left for the other host


@pytest.mark.parametrize("status", [307, 308])
def test_search_post_is_resent_to_its_own_origin_only(
    status: int, fake: FakeDatafiniti, client: Client, other: FakeDatafiniti
) -> None:
    fake.inject("/products/search", status=status, headers={"Location": other.url + "/x"})
    with pytest.raises(APIError, match="never sent to another origin") as info:
        client.start_download("products", "brand:Sony", num_records=5)
    assert info.value.status == status
    assert other.requests == []
    # To the same origin, the body and the token follow the redirect.
    same = fake.url + "/products/search"
    fake.inject("/products/search", status=status, headers={"Location": same})
    assert client.start_download("products", "brand:Sony", num_records=5)["status"] == "queued"
    resent = fake.requests_to("/products/search")[-1]
    assert resent.json()["query"] == "brand:Sony"
    assert resent.headers["Authorization"] == f"Bearer {fake.token}"


def test_get_redirect_to_plain_http_is_refused_before_it_is_sent(
    fake: FakeDatafiniti, client: Client, lookups: list[str]
) -> None:
    fake.inject("/downloads", status=302, headers={"Location": "http://evil.example/downloads"})
    with pytest.raises(APIError, match="only https"):
        client.downloads()
    assert "evil.example" not in lookups


def test_get_redirect_off_origin_never_carries_netrc_credentials(
    fake: FakeDatafiniti,
    other: FakeDatafiniti,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("default login netrc-user password netrc-pass\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    fake.inject("/downloads", status=302, headers={"Location": other.url + "/downloads"})
    with Client(fake.token, base_url=fake.url) as c, pytest.raises(AuthenticationError):
        c.downloads()  # the other origin wants its own token
    (hop,) = other.requests
    assert "Authorization" not in hop.headers


# --- result links: every hop checked before it is requested ----------------------------------


def test_result_redirect_chain_through_plain_http_fails_unrequested(
    lookups: list[str], other: FakeDatafiniti
) -> None:
    with FakeDatafiniti(records_per_file=5) as fake:
        d = fake.add_download(
            {"id": "5", "status": "completed", "format": "CSV", "num_records": 3, "results": ["x"]}
        )
        good = d["results"][0]
        port = other.origin.rsplit(":", 1)[1]
        # S3 -> http://evil.example/hop -> back to the good link: looks "downloaded" in the end.
        fake.inject("/s3/*", status=302, headers={"Location": f"http://evil.example:{port}/hop"})
        other.inject("/hop", status=302, headers={"Location": good})
        manifest = dfkit.fetch_results(d, tempfile.mkdtemp(), progress=False, errors="ignore")
    assert manifest["status"].tolist() == ["failed"]
    assert "refusing http://evil.example" in manifest["error"][0]
    assert other.requests == [] and "evil.example" not in lookups


def test_open_result_refuses_plain_http_hops_and_links(
    fake: FakeDatafiniti, client: Client, lookups: list[str]
) -> None:
    with pytest.raises(ValueError, match="only https"):
        client.open_result("http://files.example/1_0.csv?X-Amz-Signature=abc")
    fake.inject("/s3/*", status=301, headers={"Location": "http://files.example/1_0.csv"})
    with pytest.raises(APIError, match=r"refusing http://files\.example.*\(a 301 redirect from"):
        client.open_result(fake.origin + "/s3/4417/1_0.csv?X-Amz-Signature=abc")
    assert "files.example" not in lookups


# --- redaction gaps -------------------------------------------------------------------------------


def _shown(exc: BaseException) -> str:
    """Everything a traceback with locals (pytest --showlocals, Sentry, rich) would print.

    The first frame, the test's own (whose locals hold the test's inputs), is left out.
    """
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None
    te = traceback.TracebackException(type(exc), exc, tb, capture_locals=True)
    return "".join(te.format()) + repr(exc) + repr(vars(exc))


def test_login_failure_shows_no_password_even_with_traceback_locals(free_port: int) -> None:
    fake = FakeDatafiniti(email="me@x.io", password="the-right-one")
    with fake, pytest.raises(AuthenticationError) as wrong:
        Client.login("me@x.io", PASSWORD, base_url=fake.url)
    with pytest.raises(NetworkError) as down:
        Client.login("me@x.io", PASSWORD, base_url=f"http://127.0.0.1:{free_port}/v4")
    for info in (wrong, down):
        text = _shown(info.value)
        assert "password = '***'" in text or "secret = '***'" in text
        for form in (PASSWORD, "pa55  w0rd", "w0rd/very"):
            assert form not in text


@pytest.mark.parametrize(
    "echo",
    [
        "pa55 w0rd/very+secret",  # whitespace collapsed
        "pa55  w0rd\\/very+secret",  # JSON-escaped slash
        "pa55%20%20w0rd%2Fvery%2Bsecret",  # percent-encoded
        "pa55%20%20w0rd%2fvery%2bsecret",  # ... in lower case
        "pa55++w0rd%2Fvery%2Bsecret",  # form-encoded
    ],
)
def test_echoed_password_forms_are_masked(echo: str) -> None:
    body = f'{{"error": "Unauthorized", "message": "bad password {echo}", '
    body += f'"details": [{{"field": "password", "message": "{echo} is wrong"}}]}}'
    with FakeDatafiniti(email="me@x.io", password="the-right-one") as fake:
        fake.inject("/auth", status=401, body=body)
        with pytest.raises(AuthenticationError) as info:
            Client.login("me@x.io", PASSWORD, base_url=fake.url)
    err = info.value
    text = _shown(err) + repr(err.details) + str(err.message)
    assert echo not in text and "w0rd" not in text
    assert err.details == [{"field": "password", "message": "*** is wrong"}]


def test_token_in_error_details_is_masked() -> None:
    token = "tok/1234+abcd=efgh"
    with FakeDatafiniti(token=token) as fake, Client(token, base_url=fake.url) as c:
        fake.inject(
            "/downloads",
            status=400,
            body='{"error": "Bad Request", "message": "no", "details": '
            '[{"field": "token", "message": "tok\\/1234+abcd=efgh is expired"}, '
            '{"url": "/x?token=tok%2F1234%2Babcd%3Defgh"}]}',
        )
        with pytest.raises(APIError) as info:
            c.downloads()
    assert "1234" not in repr(info.value.details)
    assert info.value.details[0] == {"field": "token", "message": "*** is expired"}


def test_log_filter_keeps_exc_info_and_redacts_the_text() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    log = logging.getLogger("dfkit.client")
    handler = Keep()
    log.addHandler(handler)
    with FakeDatafiniti() as fake, Client(fake.token, base_url=fake.url):
        try:
            raise RuntimeError(f"token {fake.token} in a message")
        except RuntimeError:
            log.error("it failed", exc_info=True)
        token = fake.token
    log.removeHandler(handler)
    (record,) = records
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError
    formatted = logging.Formatter().format(record)
    assert "RuntimeError: token *** in a message" in formatted
    assert token not in formatted


def test_http_client_debuglevel_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http.client.HTTPConnection, "debuglevel", 1)
    with pytest.warns(DfkitWarning, match="debuglevel.*bypassing dfkit's redaction"):
        Client("tok-123456", base_url="http://127.0.0.1:9/v4").close()


# --- control characters in API strings ---------------------------------------------------------


def test_printable_neutralises_terminal_controls() -> None:
    hostile = "ok\x1b[2J\x1b]0;pwned\x07\r\x9b31m\u202eevil\nnext\tcol"
    shown = printable(hostile)
    assert not any(ch in shown for ch in "\x1b\x07\r\x9b\u202e")
    assert shown == "ok\\x1b[2J\\x1b]0;pwned\\x07\\r\\x9b31m\\u202eevil\nnext\tcol"


def test_cli_shows_api_strings_without_control_characters(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeDatafiniti(downloads=[{"id": "9", "status": "\x1b[2Jfailed\x07"}]) as fake:
        monkeypatch.setenv("DATAFINITI_API_URL", fake.url)
        monkeypatch.setenv("DATAFINITI_API_TOKEN", fake.token)
        assert main(["wait", "9", "--timeout", "0", "--poll-interval", "0"]) == 1
        fake.inject("/downloads", status=400, body='{"message": "\\u001b]0;owned\\u0007 no"}')
        assert main(["fetch", "--out", "-"]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "\\x1b[2Jfailed\\x07" in err and "\\x1b]0;owned\\x07 no" in err

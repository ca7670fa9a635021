"""A flaky network never hangs dfkit: one capped retry policy, deadlines, messages, one re-login.

Real sockets against ``FakeDatafiniti`` and its fault modes; the retry sleeps are recorded
instead of slept (both dfkit's clock and ``time.sleep``, so a policy that is not dfkit's would
show up as a long sleep instead of hanging the test).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import dfkit
from dfkit import (
    Client,
    DownloadCancelled,
    DownloadFailed,
    NetworkError,
    ResultFetchError,
    WaitTimeout,
    fetch,
    transport,
)
from dfkit.cli import build_parser, main
from dfkit.testing import FakeDatafiniti

if TYPE_CHECKING:
    from conftest import Clock  # the fixture's type (tests/conftest.py)

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(transport, "sleep", recorded.append)
    monkeypatch.setattr(time, "sleep", recorded.append)
    return recorded


def _completed(fake: FakeDatafiniti) -> dict[str, Any]:
    return fake.add_download(
        {"id": "5", "status": "completed", "format": "CSV", "num_records": 30, "results": ["x"]}
    )


# --- result files fetched without client= use the one policy -----------------------------------


def test_result_files_without_client_cap_retry_after(slept: list[float]) -> None:
    with FakeDatafiniti() as fake:
        d = _completed(fake)
        fake.inject("/s3/*", status=503, retry_after=99999)
        fake.inject("/s3/*", status=429, retry_after="soon")  # garbage: the backoff instead
        manifest = dfkit.fetch_results(d, tempfile.mkdtemp(), progress=False)
    assert manifest["status"].tolist() == ["downloaded"]
    assert len(fake.requests_to("/s3/*")) == 3
    assert slept and max(slept) == transport.RETRY_AFTER_CAP


def test_gzip_encoded_result_files_are_fetched_whole(slept: list[float]) -> None:
    with FakeDatafiniti() as fake:
        d = _completed(fake)
        fake.inject("/s3/*", status=None, gzip=True)
        dest = tempfile.mkdtemp()
        manifest = dfkit.fetch_results(d, dest, progress=False)
        expected = fake.result_body("5", 0)
    assert manifest["status"].tolist() == ["downloaded"]
    assert (fake.requests_to("/s3/*")[0].headers["Accept-Encoding"]) == "identity"
    with open(manifest["path"][0], "rb") as f:
        assert f.read() == expected


# --- deadlines -----------------------------------------------------------------------------


@pytest.mark.parametrize("trickle_body", [False, True], ids=["headers", "body"])
def test_a_trickling_result_file_fails_at_its_deadline(tmp_path: Path, trickle_body: bool) -> None:
    with FakeDatafiniti() as fake:
        d = _completed(fake)
        fake.inject("/s3/*", status=None, trickle=0.01, trickle_body=trickle_body)
        started = time.monotonic()
        with pytest.raises(ResultFetchError, match="deadline") as info:
            dfkit.fetch_results(d, tmp_path, progress=False, file_deadline=0.5)
        assert time.monotonic() - started < 3
    error = info.value.manifest["error"][0]
    assert "did not arrive within 0.5 s" in error and "5_0.csv from http://127.0.0.1:" in error
    assert isinstance(info.value.__cause__, NetworkError)
    assert list(tmp_path.iterdir()) == []  # nothing under the final (or a temporary) name


def test_a_result_file_has_a_deadline_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "MIN_FILE_DEADLINE", 0.5)  # instead of 10 minutes
    with FakeDatafiniti() as fake:
        d = _completed(fake)
        fake.inject("/s3/*", status=None, trickle=0.01, trickle_body=True)
        with pytest.raises(ResultFetchError, match=r"did not arrive within 0\.5 s"):
            dfkit.fetch_results(d, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_passes_the_file_deadline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeDatafiniti() as fake:
        source = tmp_path / "downloads.json"
        source.write_text(json.dumps([_completed(fake)]))
        fake.inject("/s3/*", status=None, trickle=0.01, trickle_body=True)
        code = main(
            ["results", "fetch", str(source), "--dest", str(tmp_path / "d"),
             "--file-deadline", "0.5", "--no-progress"]
        )  # fmt: skip
    assert code != 0 and "did not arrive within 0.5 s" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["results", "fetch", "x", "--dest", "d", "--file-deadline", "0"])


def test_a_cut_off_result_file_says_how_much_arrived(tmp_path: Path) -> None:
    with FakeDatafiniti() as fake:
        d = _completed(fake)
        size = len(fake.result_body("5", 0))
        fake.inject("/s3/*", status=None, truncate=True)
        with pytest.raises(ResultFetchError) as info:
            dfkit.fetch_results(d, tmp_path, progress=False)
    error = info.value.manifest["error"][0]
    assert f"connection closed after {size // 2:,} of {size:,} bytes (5_0.csv from http" in error
    assert "Error" not in error and "IncompleteRead" not in error
    cause = info.value.__cause__  # the file's error, chained to the library's
    assert cause is not None and type(cause.__cause__).__name__ == "ProtocolError"
    assert list(tmp_path.iterdir()) == []


def test_a_redirect_loop_names_the_link(tmp_path: Path) -> None:
    with FakeDatafiniti() as fake:
        d = _completed(fake)
        link = d["results"][0].split("?")[0]
        fake.inject("/s3/*", status=302, headers={"Location": link + "?again=1"}, times=10)
        with pytest.raises(ResultFetchError) as info:
            dfkit.fetch_results(d, tmp_path, progress=False)
    error = info.value.manifest["error"][0]
    assert error == f"more than 5 redirects (5_0.csv from {link}?<redacted>)"
    cause = info.value.__cause__  # the file's error, chained to the library's
    assert cause is not None and type(cause.__cause__).__name__ == "TooManyRedirects"


def test_a_trickling_answer_ends_at_the_deadline() -> None:
    with FakeDatafiniti(downloads=[{"id": "1", "status": "queued"}]) as fake:
        fake.inject("/downloads", status=None, trickle=0.05)
        started = time.monotonic()
        c = Client(fake.token, base_url=fake.url, timeout=(2, 2), deadline=0.5)
        with c, pytest.raises(NetworkError, match="deadline"):
            c.downloads()
        assert time.monotonic() - started < 2


def test_refused_connection_fails_within_seconds(slept: list[float], free_port: int) -> None:
    c = Client("tok-123456", base_url=f"http://127.0.0.1:{free_port}/v4")
    with c, pytest.raises(NetworkError, match="connection refused"):
        c.downloads()
    assert len(slept) <= transport.REFUSED_RETRIES and sum(slept) < 2


def test_cli_says_what_it_retries(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], free_port: int
) -> None:
    monkeypatch.setattr(transport, "sleep", lambda s: None)
    monkeypatch.setenv("DATAFINITI_API_URL", f"http://127.0.0.1:{free_port}/v4")
    monkeypatch.setenv("DATAFINITI_API_TOKEN", "tok-123456")
    assert main(["fetch", "--out", "-"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "dfkit: retrying GET /downloads (1/5): connection refused"
    assert err[1] == "dfkit: retrying GET /downloads (2/5): connection refused"
    assert err[2].startswith("dfkit: error: connection refused (GET /downloads)")


# --- wait ---------------------------------------------------------------------------------------


def test_wait_timeout_is_a_deadline_for_retry_after(clock: Clock) -> None:
    with FakeDatafiniti(downloads=[{"id": "9", "status": "running"}]) as fake:
        fake.inject("/downloads/9", status=429, retry_after=60, times=10)
        with Client(fake.token, base_url=fake.url) as c, pytest.raises(WaitTimeout) as info:
            c.wait(9, timeout=10, poll_interval=5, progress=False)
    assert sum(clock.sleeps) == 10  # slept until the deadline, not the 60 s asked for
    assert "10 s timeout" in str(info.value)


@pytest.mark.parametrize(
    ("statuses", "outcome"),
    [
        (["queued", " Running ", "STARTED", "in_progress", " Completed\\n"], None),
        (["running", "canceled"], DownloadCancelled),
        (["running", " Cancelled "], DownloadCancelled),
        (["running", "failed"], DownloadFailed),
        (["error"], DownloadFailed),
        ([None], DownloadFailed),
    ],
)
def test_wait_polls_only_known_in_flight_statuses(
    clock: Clock, statuses: list[str | None], outcome: type[Exception] | None
) -> None:
    with FakeDatafiniti(downloads=[{"id": "9", "status": "queued"}]) as fake:
        for status in statuses:
            fake.inject("/downloads/9", status=None, body=f'{{"id": "9", "status": "{status}"}}')
        with Client(fake.token, base_url=fake.url) as c:
            if outcome is None:
                assert c.wait(9, timeout=100, progress=False)["status"] == " Completed\n"
                assert len(clock.sleeps) == len(statuses) - 1
                return
            with pytest.raises(outcome) as info:
                c.wait(9, timeout=100, progress=False)
    download = getattr(info.value, "download", None)
    assert download is not None and download["id"] == "9"
    assert len(clock.sleeps) == len(statuses) - 1


def test_wait_bar_shows_records_and_the_frames_status(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeDatafiniti(downloads=[{"id": "9", "status": "queued"}]) as fake:
        for done, status in ((40, "running"), (70, "running"), (100, "completed")):
            body = f'{{"id": "9", "status": "{status}", "num_records": 100, '
            body += f'"num_downloaded": {done}}}'
            fake.inject("/downloads/9", status=None, body=body)
        with Client(fake.token, base_url=fake.url) as c:
            c.wait(9, poll_interval=0, progress=True)
    frames = [f for f in capsys.readouterr().err.replace("\r", "\n").splitlines() if f.strip()]
    assert "40/100" in frames[0] and "in_progress" in frames[0]
    assert "?" in frames[0].split("100")[-1]  # no rate from a single poll
    assert "100/100" in frames[-1] and "completed" in frames[-1]


def test_cli_wait_has_a_stated_default_timeout() -> None:
    parser = build_parser()
    args = parser.parse_args(["wait", "9"])
    assert args.timeout == 6 * 3600
    wait = next(
        a
        for a in parser._subparsers._group_actions[0].choices["wait"]._actions  # type: ignore[union-attr]
        if "--timeout" in a.option_strings
    )
    assert "6 hours" in str(wait.help)


# --- one re-login for many threads ----------------------------------------------------------


def test_concurrent_401s_log_in_once() -> None:
    fake = FakeDatafiniti(downloads=[{"id": "1", "status": "queued"}])
    with fake, Client.login("a@b.c", "pw-123456", base_url=fake.url) as c:
        fake.expire_token()
        fake.inject("/auth", status=None, delay=0.3)  # the others pile up meanwhile
        barrier = threading.Barrier(8)
        results: list[Any] = []

        def call() -> None:
            barrier.wait()
            try:
                results.append(c.downloads()[0]["id"])
            except Exception as exc:
                results.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert results == ["1"] * 8
    assert len(fake.requests_to("/auth")) == 2  # the login, then one re-login for all eight
    sent = [r.headers.get("Authorization") for r in fake.requests_to("/downloads")]
    assert all(h is not None and h.startswith("Bearer fake-") for h in sent)

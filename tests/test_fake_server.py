"""End-to-end tests over real sockets: dfkit.Client against dfkit.testing.FakeDatafiniti."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pandas as pd
import pytest
import requests

import dfkit
from dfkit import (
    AuthenticationError,
    Client,
    DownloadCancelled,
    NetworkError,
    ResponseError,
    WaitTimeout,
    transport,
)
from dfkit.testing import FakeDatafiniti


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "sleep", lambda seconds: None)
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    monkeypatch.delenv("DATAFINITI_API_URL", raising=False)


@pytest.fixture
def fake() -> Iterator[FakeDatafiniti]:
    with FakeDatafiniti(downloads=dfkit.sample_downloads()) as server:
        yield server


@pytest.fixture
def client(fake: FakeDatafiniti) -> Iterator[Client]:
    # A 10,000-record result file takes a second or two to make on a loaded machine.
    with Client(fake.token, base_url=fake.url, timeout=(2, 10), max_retries=2) as c:
        yield c


def bearer(fake: FakeDatafiniti) -> dict[str, str]:
    return {"Authorization": f"Bearer {fake.token}"}


# --- list -> frame -------------------------------------------------------------------------------


def test_list_to_frame(fake: FakeDatafiniti, client: Client) -> None:
    sample = dfkit.sample_downloads()
    listed = client.downloads()
    assert [d["id"] for d in listed] == [d["id"] for d in sample]
    df = dfkit.downloads_frame(listed, per="download")
    assert len(df) == len(sample)
    assert df["num_results"].sum() == sum(len(d["results"]) for d in sample)
    per_result = dfkit.downloads_frame(client=client, per="result")
    assert per_result["url"].dropna().str.startswith(fake.origin + "/s3/4417/").all()


def test_frame_from_environment(fake: FakeDatafiniti, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFINITI_API_TOKEN", fake.token)
    monkeypatch.setenv("DATAFINITI_API_URL", fake.url)
    df = dfkit.downloads_frame(per="download")
    assert len(df) == len(dfkit.sample_downloads())


def test_wrapped_records_list() -> None:
    with FakeDatafiniti(downloads=[{"id": "1"}], wrap_records=True) as fake:
        raw = requests.get(fake.url + "/downloads", headers=bearer(fake)).json()
        assert raw == {"records": [{"id": "1"}]}
        assert Client(fake.token, base_url=fake.url).downloads() == [{"id": "1"}]


def test_seeding_rewrites_links_and_keeps_their_shape() -> None:
    seed: list[dict[str, Any]] = [
        {"id": 1, "format": "csv", "results": [{"url": "https://s3/1_0.csv?sig=a"}]},
        {"id": "2", "format": "JSON", "results": ["https://s3/2_0.txt?x=1", "https://s3/2_1.txt"]},
    ]
    with FakeDatafiniti(downloads=seed) as fake:
        one, two = Client(fake.token, base_url=fake.url).downloads()
    assert seed[0]["results"] == [{"url": "https://s3/1_0.csv?sig=a"}]  # the input is untouched
    assert one["id"] == 1 and set(one["results"][0]) == {"url"}
    assert one["results"][0]["url"].startswith(fake.origin + "/s3/4417/1_0.csv?X-Amz-Algorithm=")
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in two["results"]] == ["2_0.txt", "2_1.txt"]


# --- start -> wait -------------------------------------------------------------------------------


def test_start_wait_completed_and_fetch(fake: FakeDatafiniti, client: Client) -> None:
    started = client.start_download("products", "brand:Apple", num_records=25, format="JSON")
    assert started["status"] == "queued" and started["results"] == []
    assert client.download(started["id"])["status"] == "running"
    done = client.wait(started["id"], poll_interval=0.01, progress=False)
    assert len(fake.requests_to(f"/downloads/{started['id']}")) == 2  # running, completed
    assert done["num_downloaded"] == 25 and len(done["results"]) == 1
    with client.open_result(done["results"][0]) as r:
        assert r.status_code == 200
        lines = r.content.splitlines()
    records = [orjson.loads(line) for line in lines]
    assert len(records) == 25
    assert records == fake.result_records(started["id"], 0)
    search = fake.requests_to("/products/search")[0]
    assert search.json() == {
        "query": "brand:Apple",
        "format": "JSON",
        "num_records": 25,
        "download": True,
    }


def test_several_files_when_over_records_per_file() -> None:
    with FakeDatafiniti(records_per_file=10) as fake, Client(fake.token, base_url=fake.url) as c:
        d = c.start_download("business", "city:Boston", num_records=25, format="CSV")
        done = c.wait(d["id"], poll_interval=0, progress=False)
        assert len(done["results"]) == 3
        counts = [len(fake.result_records(d["id"], n)) for n in range(3)]
    assert counts == [10, 10, 5]


def test_wait_cancelled(fake: FakeDatafiniti, client: Client) -> None:
    d = client.start_download("people", "country:US", num_records=10)
    fake.cancel(d["id"], after_polls=2)
    with pytest.raises(DownloadCancelled) as info:
        client.wait(d["id"], poll_interval=0, progress=False)
    assert info.value.download is not None and info.value.download["results"] == []
    assert len(fake.requests_to(f"/downloads/{d['id']}")) == 2


def test_wait_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(transport, "monotonic", lambda: now[0])
    monkeypatch.setattr(transport, "sleep", lambda s: now.__setitem__(0, now[0] + s))
    with FakeDatafiniti(polls_to_complete=1000) as fake, Client(fake.token, base_url=fake.url) as c:
        d = c.start_download("products", "x", num_records=1000)
        with pytest.raises(WaitTimeout) as info:
            c.wait(d["id"], timeout=30, poll_interval=5, progress=False)
    assert info.value.last is not None
    assert info.value.last["status"] == "running"
    assert 0 < info.value.last["num_downloaded"] < 1000


def test_zero_records_download_is_refused_like_the_api(fake: FakeDatafiniti) -> None:
    body = {"query": "x", "format": "CSV", "num_records": 0, "download": True}
    r = requests.post(fake.url + "/products/search", json=body, headers=bearer(fake))
    assert r.status_code == 400 and r.json()["message"] == "numRequested cannot be <= 0"


# --- faults over the wire ------------------------------------------------------------------------


def test_truncated_body(fake: FakeDatafiniti, client: Client) -> None:
    fake.inject("/downloads", status=None, truncate=True)
    with pytest.raises(ResponseError, match="cut off after"):
        client.downloads()


def test_slow_server_vs_timeout(fake: FakeDatafiniti) -> None:
    fake.inject("/downloads/*", status=None, delay=1.0, times=3)
    c = Client(fake.token, base_url=fake.url, timeout=(2, 0.25), max_retries=1)
    with c, pytest.raises(NetworkError, match="read timeout"):
        c.download(next(iter(fake.downloads)))
    assert len(fake.requests_to("/downloads/*")) == 2


def test_html_error_page(fake: FakeDatafiniti, client: Client) -> None:
    fake.inject("/downloads", status=502, body="<html><h1>Bad gateway</h1></html>", times=5)
    with pytest.raises(dfkit.ServerError, match="Bad gateway"):
        client.downloads()


def test_faults_are_used_in_order_and_counted(fake: FakeDatafiniti) -> None:
    fake.inject("/downloads", status=500)
    fake.inject("/downloads", status=429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    statuses = [requests.get(fake.url + "/downloads", headers=bearer(fake)) for _ in range(3)]
    assert [r.status_code for r in statuses] == [500, 429, 200]
    assert statuses[1].headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert [r.method for r in fake.requests_to("/downloads")] == ["GET"] * 3


def test_requests_are_recorded(fake: FakeDatafiniti, client: Client) -> None:
    client.start_download("products", "q", num_records=3)
    last = fake.requests[-1]
    assert (last.method, last.path, last.query) == ("POST", "/v4/products/search", "")
    assert last.headers["authorization"] == f"Bearer {fake.token}"
    assert last.json()["num_records"] == 3


def test_missing_or_wrong_token_is_401(fake: FakeDatafiniti) -> None:
    assert requests.get(fake.url + "/downloads").status_code == 401
    r = requests.get(fake.url + "/downloads", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["code"] == 401
    assert requests.get(fake.url + "/downloads/404404", headers=bearer(fake)).status_code == 404


# --- the token's reach ---------------------------------------------------------------------------


def test_cross_origin_redirect_drops_the_token(fake: FakeDatafiniti) -> None:
    with FakeDatafiniti(downloads=[{"id": "other"}], token=fake.token) as other:
        fake.inject("/downloads", status=302, headers={"Location": other.url + "/downloads"})
        # The other origin would accept the token; it never receives it.
        c = Client(fake.token, base_url=fake.url)
        with c, pytest.raises(AuthenticationError):
            c.downloads()
        (received,) = other.requests
        assert "Authorization" not in received.headers
        assert fake.requests[-1].headers["Authorization"] == f"Bearer {fake.token}"


def test_same_origin_redirect_keeps_the_token(fake: FakeDatafiniti, client: Client) -> None:
    some_id = next(iter(fake.downloads))
    fake.inject(
        "/downloads/old", status=301, headers={"Location": f"{fake.url}/downloads/{some_id}"}
    )
    assert client.download("old")["id"] == some_id


def test_result_fetch_carries_no_authorization(fake: FakeDatafiniti, client: Client) -> None:
    url = next(d for d in client.downloads() if d["results"])["results"][0]
    with client.open_result(url) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"] in ("text/csv", "text/plain")
    (got,) = fake.requests_to("/s3/*")
    assert "Authorization" not in got.headers and "Cookie" not in got.headers
    # And the fake, like S3, refuses a request that does carry one.
    r = requests.get(url, headers=bearer(fake))
    assert r.status_code == 400 and b"<Code>InvalidArgument</Code>" in r.content


def test_bad_signature_is_403(fake: FakeDatafiniti, client: Client) -> None:
    url = next(d for d in client.downloads() if d["results"])["results"][0]
    r = requests.get(url.rsplit("=", 1)[0] + "=0000")
    assert r.status_code == 403 and b"SignatureDoesNotMatch" in r.content
    assert requests.get(url.split("?")[0]).status_code == 403


def test_expire_links(fake: FakeDatafiniti, client: Client) -> None:
    fake.add_download(
        {"id": "e1", "status": "completed", "format": "CSV", "num_records": 30, "results": [1, 2]}
    )
    d = client.download("e1")
    old = d["results"]
    fake.expire_links(d["id"])
    for url in old:
        with client.open_result(url) as r:
            assert r.status_code == 403
            assert r.headers["Content-Type"] == "application/xml"
            assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in r.content
    fresh = client.download(d["id"])["results"]
    assert fresh != old and len(fresh) == len(old)
    for url in fresh:
        with client.open_result(url) as r:
            assert r.status_code == 200 and r.content


# --- result file contents ------------------------------------------------------------------------


def _file(fake: FakeDatafiniti, data_type: str, fmt: str, n: int = 40) -> bytes:
    with Client(fake.token, base_url=fake.url) as c:
        d = c.start_download(data_type, "q", num_records=n, format=fmt)
        done = c.wait(d["id"], poll_interval=0, progress=False)
        with c.open_result(done["results"][0]) as r:
            assert r.status_code == 200
            return r.content


def test_csv_files_look_like_datafiniti(fake: FakeDatafiniti) -> None:
    product = list(csv.DictReader(io.StringIO(_file(fake, "product", "CSV").decode())))
    assert {"upc", "prices.amountMax", "prices.isSale", "reviews.rating", "dateAdded"} <= set(
        product[0]
    )
    upcs = {row["upc"] for row in product}
    assert all(len(u) == 20 and u.isdigit() for u in upcs)
    assert any(int(u) != int(float(u)) for u in upcs)  # not exact as a float
    assert len({row["id"] for row in product}) == 40 < len(product)  # a row per price/review
    business = _file(fake, "business", "CSV")
    frame = pd.read_csv(io.BytesIO(business), dtype=str)
    assert frame["postalCode"].str.startswith("0").any()
    assert frame["postalCode"].str.fullmatch(r"\d{5}").all()
    assert frame["latitude"].str.fullmatch(r"-?\d+\.\d{5}").all()
    assert pd.to_datetime(frame["dateUpdated"], utc=True).notna().all()
    assert pd.read_csv(io.BytesIO(business))["postalCode"].dtype != object  # the trap is real


def test_json_files_are_ndjson_with_nested_lists(fake: FakeDatafiniti) -> None:
    body = _file(fake, "property", "JSON", n=12)
    assert body.endswith(b"\n")
    records = [orjson.loads(line) for line in body.splitlines()]
    assert len(records) == 12
    first = records[0]
    assert isinstance(first["prices"], list) and isinstance(first["prices"][0]["amountMax"], float)
    assert isinstance(first["latitude"], str) and isinstance(first["postalCode"], str)
    reviews = orjson.loads(_file(fake, "business", "JSON", n=30).splitlines()[0])
    assert isinstance(reviews["reviews"], list) and isinstance(reviews["categories"], list)


def test_files_are_deterministic(fake: FakeDatafiniti) -> None:
    d = min((d for d in fake.downloads.values() if d["results"]), key=lambda d: d["num_records"])
    first = fake.result_body(d["id"], 0)
    assert first == fake.result_body(d["id"], 0)
    with FakeDatafiniti(downloads=dfkit.sample_downloads()) as again:
        assert again.result_body(d["id"], 0) == first


def test_stop_cuts_pending_delays_short() -> None:
    import threading
    import time

    fake = FakeDatafiniti().start()
    fake.inject("/downloads", status=None, delay=30)

    def slow_get() -> None:
        with contextlib.suppress(requests.RequestException):
            requests.get(fake.url + "/downloads", headers=bearer(fake), timeout=5)

    t = threading.Thread(target=slow_get, daemon=True)
    t.start()
    while not fake.requests:
        time.sleep(0.01)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 3

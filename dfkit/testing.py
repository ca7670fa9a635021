"""``FakeDatafiniti``: a local fake of the Datafiniti v4 API, for tests and offline notebooks.

A real HTTP server (stdlib ``ThreadingHTTPServer``) on ``127.0.0.1`` and a free port, run in a
daemon thread and started as a context manager. ``fake.url`` is a base URL for
:class:`dfkit.Client` (``http://127.0.0.1:PORT/v4``) and ``fake.token`` the token it accepts.

What it serves:

* ``POST /v4/auth`` with ``{"email", "password"}`` -> ``{"token": fake.token}`` (any non-empty
  pair when the fake was made without ``email``/``password``).
* ``GET /v4/downloads``: a bare JSON array (``{"records": [...]}`` with ``wrap_records=True``).
* ``GET /v4/downloads/{id}``: one download object; 404 for an unknown id.
* ``POST /v4/{businesses|products|properties|people}/search`` with ``download: true`` -> a new
  download (``search_status``, 202 by default) that is ``queued``; each later
  ``GET /downloads/{id}`` of it moves it on (``running`` with ``num_downloaded`` growing, then
  ``completed`` after ``polls_to_complete`` polls, with its result links). :meth:`cancel` makes
  one end ``cancelled`` instead. ``num_records <= 0`` answers 400 ``numRequested cannot be <= 0``,
  as the real API does; a missing ``num_records`` buys ``matching_records`` records.
* Result files at S3-like pre-signed links,
  ``http://127.0.0.1:PORT/s3/<user>/<id>_<n>.csv?X-Amz-...&X-Amz-Signature=...``. Like S3, a
  request carrying an ``Authorization`` header gets 400 with an XML ``<Error>`` body, a bad
  signature 403 ``SignatureDoesNotMatch``, and a link made stale by :meth:`expire_links` 403
  ``AccessDenied`` / ``Request has expired``.

Every API call except ``/auth`` needs ``Authorization: Bearer <fake.token>`` (else 401).

**Result files** are generated on request, deterministic per download id and file index, with
up to ``records_per_file`` records each (file ``n`` holds records ``n*records_per_file`` onward
of ``num_downloaded``). Records look like Datafiniti's: ``id``, ``dateAdded`` and
``dateUpdated`` (ISO timestamps), ``keys``, ``sourceURLs`` and by data type

* ``product``: ``name``, ``brand``, ``categories``, ``upc`` (a 20-digit string: not exact as a
  float), ``prices`` (list of objects: ``amountMax``, ``amountMin``, ``currency``, ``isSale``,
  ``merchant``, ``dateSeen``) and ``reviews`` (``date``, ``rating``, ``text``, ``title``,
  ``username``);
* ``business``: ``name``, ``address``, ``city``, ``province``, ``postalCode`` (often with a
  leading zero, ``"02134"``), ``country``, ``latitude``/``longitude`` (strings),
  ``categories``, ``reviews``;
* ``property``: ``address``, ``city``, ``province``, ``postalCode``, ``country``,
  ``latitude``/``longitude``, ``propertyType``, ``numBedroom``, ``prices``;
* ``people``: ``firstName``, ``lastName``, ``jobTitle``, ``businessName``, ``city``,
  ``province``, ``postalCode``, ``country``, ``emails``.

``format=JSON`` gives ``.txt`` files of newline-delimited JSON, one record per line with the
nested lists kept. ``format=CSV`` gives ``.csv`` files with dotted column names
(``reviews.rating``, ``prices.amountMax``): a record whose longest nested list has ``k``
elements takes ``k`` rows (one when ``k`` is 0), row ``j`` holding element ``j`` of each list
(empty cells where a list is shorter) and the record's other fields repeated; lists of plain
values (``categories``, ``prices.dateSeen``) are joined with commas. :meth:`result_records`
and :meth:`result_body` give a file's records and bytes without HTTP, for assertions.

**Faults**: :meth:`inject` makes the next requests to a path fail (status, ``Retry-After``,
delay, HTML body, truncated or chunked body). :attr:`requests` records every request received.

>>> import dfkit
>>> with FakeDatafiniti(downloads=dfkit.sample_downloads()) as fake:
...     client = dfkit.Client(fake.token, base_url=fake.url)
...     downloads = client.downloads()
...     done = next(d for d in downloads if d["results"])
...     with client.open_result(done["results"][0]) as r:
...         status, first = r.status_code, r.text.splitlines()[0]
>>> len(downloads) == len(dfkit.sample_downloads()), status, first.startswith(("id,", '{"id"'))
(True, 200, True)
"""

from __future__ import annotations

import copy
import csv
import fnmatch
import gzip
import hashlib
import hmac
import io
import math
import random
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import orjson
from requests.structures import CaseInsensitiveDict

from dfkit.vocabulary import DATA_TYPE_ENDPOINTS

__all__ = ["FakeDatafiniti", "RecordedRequest"]

_PLURALS = {plural: data_type for data_type, plural in DATA_TYPE_ENDPOINTS.items()}
_API_PREFIX = "/v4"
_S3_PREFIX = "/s3/"
_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received: ``path`` without the query string, raw ``body``."""

    method: str
    path: str
    query: str
    headers: CaseInsensitiveDict[str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return orjson.loads(self.body)


@dataclass
class _Fault:
    status: int | None
    times: int
    retry_after: str | None
    delay: float | None
    body: bytes | None
    truncate: bool
    content_type: str | None
    headers: dict[str, str]
    chunked: bool
    trickle: float | None = None
    gzip: bool = False
    trickle_body: bool = False


@dataclass
class _Answer:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def _json(status: int, value: Any) -> _Answer:
    return _Answer(status, orjson.dumps(value))


def _error(status: int, message: str) -> _Answer:
    phrase = HTTPStatus(status).phrase
    return _json(status, {"error": phrase, "message": message, "code": status})


def _s3_error(status: int, code: str, message: str, resource: str) -> _Answer:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<Resource>{resource}</Resource>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    ).encode()
    return _Answer(status, body, "application/xml")


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up mid-request (timeouts, cut-off reads in tests).

    socketserver prints a traceback to stderr for those, which would end up in the output of
    the code under test; any other error is still printed.
    """

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeDatafiniti:
    """Return a local fake Datafiniti API server (start it with ``with`` or :meth:`start`).

    ``downloads`` seeds it (plain dicts, copied; their result links are rewritten to the fake's
    own S3-like links, keeping their number, ``.csv``/``.txt`` extension and shape: strings or
    ``{"url": ...}`` objects). ``token`` defaults to a random one; ``email``/``password``, when
    given, are the only credentials ``POST /auth`` accepts.

    >>> with FakeDatafiniti(downloads=[{"id": "1", "status": "completed"}]) as fake:
    ...     fake.url.startswith("http://127.0.0.1:"), fake.url.endswith("/v4")
    (True, True)
    """

    def __init__(
        self,
        downloads: Iterable[Mapping[str, Any]] | None = None,
        *,
        token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        wrap_records: bool = False,
        records_per_file: int = 10_000,
        polls_to_complete: int = 2,
        search_status: int = 202,
        matching_records: int = 1_000,
        user: str = "4417",
    ) -> None:
        if records_per_file <= 0 or polls_to_complete <= 0:
            raise ValueError("records_per_file and polls_to_complete must be positive")
        self.token = token if token is not None else "fake-" + secrets.token_hex(16)
        self.email = email
        self.password = password
        self.wrap_records = wrap_records
        self.records_per_file = records_per_file
        self.polls_to_complete = polls_to_complete
        self.search_status = search_status
        self.matching_records = matching_records
        self.user = user
        #: Every request received, oldest first.
        self.requests: list[RecordedRequest] = []
        #: The downloads it holds, by id, as plain dicts (modify them freely under ``lock``).
        self.downloads: dict[str, dict[str, Any]] = {}
        self.lock = threading.RLock()
        self._faults: list[tuple[str, _Fault]] = []
        self._polls: dict[str, int] = {}  # downloads that move on when polled -> polls so far
        self._cancel_at: dict[str, int] = {}
        self._generation: dict[str, int] = {}
        self._key = secrets.token_bytes(16)
        self._bodies: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{port}"
        #: The base URL to give ``dfkit.Client``.
        self.url = self.origin + _API_PREFIX
        for item in downloads or ():
            self.add_download(item)

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeDatafiniti:
        """Start serving in a daemon thread and return ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"FakeDatafiniti {self.origin}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (pending delays are cut short)."""
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeDatafiniti:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FakeDatafiniti(url={self.url!r}, downloads={len(self.downloads)})"

    # -- state ------------------------------------------------------------------------------

    def add_download(self, download: Mapping[str, Any]) -> dict[str, Any]:
        """Return the stored copy of ``download`` after adding it (result links rewritten).

        >>> with FakeDatafiniti() as fake:
        ...     d = fake.add_download({"id": 5, "status": "completed", "format": "CSV",
        ...                            "num_records": 3, "results": ["https://x/5_0.csv?a=1"]})
        ...     list(fake.downloads), d["results"][0].split("?")[0].endswith("/s3/4417/5_0.csv")
        (['5'], True)
        """
        d = copy.deepcopy(dict(download))
        raw_id = d.get("id", d.get("_id"))
        with self.lock:
            download_id = str(raw_id) if raw_id is not None else str(self._next_id())
            d.setdefault("id", raw_id if raw_id is not None else download_id)
            results = d.get("results")
            if isinstance(results, list) and results:
                d["results"] = [
                    self._link_like(item, d, download_id, n) for n, item in enumerate(results)
                ]
            self.downloads[download_id] = d
        return d

    def cancel(self, download_id: str | int, *, after_polls: int = 0) -> None:
        """Make a download end ``cancelled``, now or at its ``after_polls``-th next poll.

        >>> with FakeDatafiniti(downloads=[{"id": "1", "status": "running"}]) as fake:
        ...     fake.cancel(1)
        ...     fake.downloads["1"]["status"]
        'cancelled'
        """
        key = str(download_id)
        with self.lock:
            d = self.downloads[key]
            if after_polls <= 0:
                self._finish_cancelled(d)
            else:
                self._polls.setdefault(key, 0)
                self._cancel_at[key] = self._polls[key] + after_polls

    def expire_links(self, download_id: str | int) -> list[str]:
        """Return freshly signed links for a download; its current links now answer 403.

        The old links get S3's ``AccessDenied`` / ``Request has expired`` XML; the next
        ``GET /downloads/{id}`` (and ``fake.downloads``) carries the new, working ones.

        >>> import requests
        >>> with FakeDatafiniti() as fake:
        ...     d = fake.add_download({"id": "9", "status": "completed", "format": "JSON",
        ...                            "num_records": 2, "results": ["https://x/9_0.txt"]})
        ...     old = d["results"][0]
        ...     new = fake.expire_links(9)
        ...     r = requests.get(old)
        ...     r.status_code, b"Request has expired" in r.content, requests.get(new[0]).ok
        (403, True, True)
        """
        key = str(download_id)
        with self.lock:
            d = self.downloads[key]
            self._generation[key] = self._generation.get(key, 0) + 1
            results = d.get("results") or []
            d["results"] = [self._link_like(item, d, key, n) for n, item in enumerate(results)]
            return [_link_url(item) for item in d["results"]]

    def inject(
        self,
        path: str,
        *,
        status: int | None = 503,
        times: int = 1,
        retry_after: float | str | None = None,
        delay: float | None = None,
        body: bytes | str | None = None,
        truncate: bool = False,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        chunked: bool = False,
        trickle: float | None = None,
        gzip: bool = False,
        trickle_body: bool = False,
    ) -> None:
        """Make the next ``times`` requests to ``path`` misbehave.

        ``path`` is relative to the API base (``"/downloads"``, ``"/downloads/*"``,
        ``"/products/search"``, ``"/auth"``) or, for result files, starts with ``/s3/``;
        shell wildcards match (``fnmatch``), the query string is ignored. Faults for the same
        request are used in the order they were injected.

        * ``status``: answer with it (a JSON error body unless ``body`` is given); ``None``
          answers as usual, with the other changes below applied.
        * ``retry_after``: a ``Retry-After`` header, sent as is (seconds, an HTTP date, or any
          garbage string).
        * ``delay``: seconds to wait before answering (to trigger read timeouts).
        * ``body`` / ``content_type``: replace the body (``text/html`` when it starts with
          ``<``, else ``application/json``, unless ``content_type`` says otherwise).
        * ``truncate``: announce the full ``Content-Length`` but send half and hang up.
        * ``chunked``: send the body with ``Transfer-Encoding: chunked`` (no Content-Length).
        * ``headers``: extra response headers (``{"Location": ...}`` with ``status=302``).
        * ``trickle``: send the answer (status line, headers, body) one byte at a time,
          ``trickle`` seconds apart; with ``trickle_body=True`` the status line and headers are
          sent at once and only the body trickles.
        * ``gzip``: gzip the body (``Content-Encoding: gzip``, the compressed length) when the
          request's ``Accept-Encoding`` allows it, as S3 does for objects stored that way.

        >>> import requests
        >>> with FakeDatafiniti() as fake:
        ...     fake.inject("/downloads", status=503, retry_after=7)
        ...     r = requests.get(fake.url + "/downloads")
        ...     r.status_code, r.headers["Retry-After"]
        (503, '7')
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        data = body.encode() if isinstance(body, str) else body
        if content_type is None and data is not None:
            content_type = (
                "text/html; charset=utf-8" if data.lstrip().startswith(b"<") else "application/json"
            )
        if isinstance(retry_after, float) and retry_after.is_integer():
            retry_after = int(retry_after)
        fault = _Fault(
            status=status,
            times=times,
            retry_after=None if retry_after is None else str(retry_after),
            delay=delay,
            body=data,
            truncate=truncate,
            content_type=content_type,
            headers=dict(headers or {}),
            chunked=chunked,
            trickle=trickle,
            gzip=gzip,
            trickle_body=trickle_body,
        )
        with self.lock:
            self._faults.append((path, fault))

    def clear_faults(self) -> None:
        """Forget every injected fault not used yet."""
        with self.lock:
            self._faults.clear()

    def expire_token(self) -> str:
        """Return a new token after making the current one answer 401 (as after a password change).

        ``POST /auth`` hands out the new one, so a client made with ``Client.login`` recovers.
        """
        with self.lock:
            self.token = "fake-" + secrets.token_hex(16)
            return self.token

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Return the recorded requests whose path (relative like :meth:`inject`'s) matches."""
        with self.lock:
            return [
                r
                for r in self.requests
                if fnmatch.fnmatchcase(_relative(r.path), path)
                and (method is None or r.method == method.upper())
            ]

    # -- result files -----------------------------------------------------------------------

    def result_records(self, download_id: str | int, index: int) -> list[dict[str, Any]]:
        """Return the records of a download's result file ``index`` (the JSON form).

        >>> fake = FakeDatafiniti(records_per_file=3)
        >>> _ = fake.add_download({"id": "4", "status": "completed", "data_type": "business",
        ...                        "num_records": 5, "results": ["a", "b"]})
        >>> [len(fake.result_records(4, n)) for n in (0, 1)]
        [3, 2]
        >>> sorted(fake.result_records(4, 0)[0])[:4]
        ['address', 'categories', 'city', 'country']
        >>> fake.stop()
        """
        with self.lock:
            d = self.downloads[str(download_id)]
        total = 0
        for name in ("num_downloaded", "num_records"):
            value = d.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                total = value
                break
        count = max(0, min(self.records_per_file, total - index * self.records_per_file))
        data_type = str(d.get("data_type") or "product").lower()
        rng = random.Random(f"dfkit-fake:{d.get('id')}:{index}")
        return [_record(rng, data_type) for _ in range(count)]

    def result_body(self, download_id: str | int, index: int) -> bytes:
        """Return result file ``index`` as served: CSV, or newline-delimited JSON for JSON.

        >>> fake = FakeDatafiniti()
        >>> _ = fake.add_download({"id": "4", "status": "completed", "format": "CSV",
        ...     "data_type": "product", "num_records": 2, "results": ["x/4_0.csv"]})
        >>> header = fake.result_body(4, 0).decode().splitlines()[0].split(",")
        >>> "upc" in header, "prices.amountMax" in header, "reviews.rating" in header
        (True, True, True)
        >>> fake.stop()
        """
        with self.lock:
            d = self.downloads[str(download_id)]
            key = (
                str(download_id),
                index,
                _extension(d),
                str(d.get("data_type")),
                d.get("num_downloaded"),
                d.get("num_records"),
            )
            cached = self._bodies.get(key)
        if cached is not None:
            return cached
        records = self.result_records(download_id, index)
        if key[2] == "csv":
            body = _to_csv(records, str(d.get("data_type") or "product").lower())
        else:
            body = b"".join(orjson.dumps(r) + b"\n" for r in records)
        with self.lock:
            # A 10,000-record file takes about half a second to make: keep the recent ones.
            self._bodies[key] = body
            while sum(map(len, self._bodies.values())) > _CACHE_BYTES and len(self._bodies) > 1:
                self._bodies.popitem(last=False)
        return body

    # -- internals --------------------------------------------------------------------------

    def _next_id(self) -> int:
        ids = [int(k) for k in self.downloads if k.isdigit()]
        return max(ids, default=899_999) + 1

    def _signature(self, key: str, n: int, generation: int) -> str:
        message = f"{key}:{n}:{generation}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def _link(self, d: Mapping[str, Any], key: str, n: int) -> str:
        user = quote(str(d.get("user_id") or d.get("user") or self.user), safe="")
        signed = datetime.now(timezone.utc)
        signature = self._signature(key, n, self._generation.get(key, 0))
        return (
            f"{self.origin}/s3/{user}/{quote(key, safe='')}_{n}.{_extension(d)}"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFAKEDFKIT%2F"
            f"{signed:%Y%m%d}%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={signed:%Y%m%dT%H%M%SZ}"
            f"&X-Amz-Expires=604800&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
        )

    def _link_like(self, item: Any, d: Mapping[str, Any], key: str, n: int) -> Any:
        url = self._link(d, key, n)
        if isinstance(item, dict):
            return {**item, "url": url}
        return url

    def _finish_cancelled(self, d: dict[str, Any]) -> None:
        d["status"] = "cancelled"
        d["date_updated"] = _iso(datetime.now(timezone.utc))
        self._polls.pop(str(d["id"]), None)
        self._cancel_at.pop(str(d["id"]), None)

    def _advance(self, key: str) -> None:
        """Move a download started through the search POST on by one poll."""
        if key not in self._polls:
            return
        d = self.downloads[key]
        self._polls[key] += 1
        polls = self._polls[key]
        if key in self._cancel_at and polls >= self._cancel_at[key]:
            self._finish_cancelled(d)
            return
        num = int(d.get("num_records") or 0)
        d["date_updated"] = _iso(datetime.now(timezone.utc))
        if key in self._cancel_at:  # runs until it is cancelled, never completes
            d["status"] = "running"
            d["num_downloaded"] = min(num * polls // self.polls_to_complete, max(num - 1, 0))
            return
        if polls < self.polls_to_complete:
            d["status"] = "running"
            d["num_downloaded"] = num * polls // self.polls_to_complete
            return
        d["status"] = "completed"
        d["num_downloaded"] = num
        d["total_cost"] = float(num * (2 if d.get("data_type") == "property" else 1))
        n_files = max(1, math.ceil(num / self.records_per_file))
        d["results"] = [self._link(d, key, n) for n in range(n_files)]
        del self._polls[key]

    def _fault_for(self, path: str) -> _Fault | None:
        with self.lock:
            for i, (pattern, fault) in enumerate(self._faults):
                if fnmatch.fnmatchcase(path, pattern):
                    fault.times -= 1
                    if fault.times <= 0:
                        del self._faults[i]
                    return fault
        return None

    def _route(self, method: str, path: str, query: str, headers: Any, body: bytes) -> _Answer:
        if path.startswith(_S3_PREFIX):
            if method not in ("GET", "HEAD"):
                return _s3_error(405, "MethodNotAllowed", "The method is not allowed.", path)
            return self._serve_file(path, query, headers)
        if not path.startswith(_API_PREFIX + "/"):
            return _error(404, f"No route for {path}")
        rel = path[len(_API_PREFIX) :]
        if rel == "/auth":
            if method != "POST":
                return _error(405, "Use POST /auth")
            return self._auth(body)
        with self.lock:
            token = self.token
        if headers.get("Authorization", "") != f"Bearer {token}":
            return _error(401, "Invalid or missing API token")
        parts = rel.strip("/").split("/")
        if parts == ["downloads"] and method in ("GET", "HEAD"):
            with self.lock:
                items = copy.deepcopy(list(self.downloads.values()))
            return _json(200, {"records": items} if self.wrap_records else items)
        if len(parts) == 2 and parts[0] == "downloads" and method in ("GET", "HEAD"):
            with self.lock:
                if parts[1] not in self.downloads:
                    return _error(404, f"Download {parts[1]} not found")
                self._advance(parts[1])
                return _json(200, copy.deepcopy(self.downloads[parts[1]]))
        if len(parts) == 2 and parts[0] in _PLURALS and parts[1] == "search":
            if method != "POST":
                return _error(405, "Use POST")
            return self._search(_PLURALS[parts[0]], body)
        return _error(404, f"No route for {method} {rel}")

    def _auth(self, body: bytes) -> _Answer:
        try:
            creds = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "Body must be JSON")
        if not isinstance(creds, dict):
            return _error(400, "Body must be a JSON object")
        email, password = creds.get("email"), creds.get("password")
        if not (isinstance(email, str) and email and isinstance(password, str) and password):
            return _error(400, "email and password are required")
        if (self.email is not None and email != self.email) or (
            self.password is not None and password != self.password
        ):
            return _error(401, "Invalid email or password")
        with self.lock:
            return _json(200, {"token": self.token})

    def _search(self, data_type: str, body: bytes) -> _Answer:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "Body must be JSON")
        if not isinstance(request, dict):
            return _error(400, "Body must be a JSON object")
        if request.get("download") is not True:
            return _error(400, "The fake serves only download requests (download: true)")
        query = request.get("query")
        if not isinstance(query, str) or not query:
            return _error(400, "query is required")
        fmt = request.get("format", "JSON")
        if not isinstance(fmt, str) or fmt.upper() not in ("CSV", "JSON"):
            return _error(400, "format must be CSV or JSON")
        num = request.get("num_records", self.matching_records)
        if not isinstance(num, int) or isinstance(num, bool):
            return _error(400, "num_records must be an integer")
        if num <= 0:
            return _error(400, "numRequested cannot be <= 0")
        now = _iso(datetime.now(timezone.utc))
        with self.lock:
            new_id = self._next_id()
            d: dict[str, Any] = {
                "id": str(new_id),
                "_id": new_id,
                "user_id": self.user,
                "status": "queued",
                "data_type": data_type,
                "format": fmt.upper(),
                "query": query,
                "num_records": num,
                "num_downloaded": 0,
                "total_cost": 0.0,
                "date_started": now,
                "date_updated": now,
                "results": [],
                "is_enrichment_job": False,
            }
            if request.get("view") is not None:
                d["view"] = request["view"]
            self.downloads[d["id"]] = d
            self._polls[d["id"]] = 0
            return _json(self.search_status, copy.deepcopy(d))

    def _serve_file(self, path: str, query: str, headers: Any) -> _Answer:
        if headers.get("Authorization") is not None:
            return _s3_error(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
                path,
            )
        name = path.rsplit("/", 1)[-1]
        stem = name.rsplit(".", 1)[0]
        key, _, index = stem.rpartition("_")
        params = parse_qs(query)
        signature = (params.get("X-Amz-Signature") or [""])[0]
        with self.lock:
            d = self.downloads.get(key)
            results = (d or {}).get("results") or []
            if d is None or not index.isdigit() or int(index) >= len(results):
                return _s3_error(404, "NoSuchKey", "The specified key does not exist.", path)
            n = int(index)
            generation = self._generation.get(key, 0)
        if not signature:
            return _s3_error(
                403,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and "
                "AWSAccessKeyId parameters",
                path,
            )
        if hmac.compare_digest(signature, self._signature(key, n, generation)):
            ctype = "text/csv" if name.endswith(".csv") else "text/plain"
            return _Answer(200, self.result_body(key, n), ctype)
        for old in range(generation):
            if hmac.compare_digest(signature, self._signature(key, n, old)):
                return _s3_error(403, "AccessDenied", "Request has expired", path)
        return _s3_error(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            path,
        )


def _relative(path: str) -> str:
    if path.startswith(_API_PREFIX + "/"):
        return path[len(_API_PREFIX) :]
    return path


def _extension(d: Mapping[str, Any]) -> str:
    for item in d.get("results") or ():
        url = _link_url(item)
        if isinstance(url, str):
            tail = urlsplit(url).path.rsplit(".", 1)[-1].lower()
            if tail in ("csv", "txt"):
                return tail
    return "csv" if str(d.get("format", "JSON")).lower() == "csv" else "txt"


def _link_url(item: Any) -> Any:
    return item.get("url") if isinstance(item, dict) else item


def _gzip_answer(answer: _Answer, request_headers: Any) -> None:
    """Gzip the body, as a server does for a client whose Accept-Encoding allows it."""
    if "gzip" in request_headers.get("Accept-Encoding", ""):
        answer.body = gzip.compress(answer.body)
        answer.headers["Content-Encoding"] = "gzip"


class _Trickling(io.BufferedIOBase):
    """A write file that sends each byte ``pause`` seconds after the last, until the fake stops."""

    def __init__(
        self, out: Any, pause: float, stopping: threading.Event, *, whole: int = 0
    ) -> None:
        super().__init__()
        self.out, self.pause, self.stopping = out, pause, stopping
        #: Writes still sent whole (1: the status line and headers, one write).
        self.whole = whole

    def writable(self) -> bool:
        return True

    def write(self, data: Any, /) -> int:
        if self.whole > 0:
            self.whole -= 1
            self.out.write(data)
            self.out.flush()
            return len(data)
        for i in range(len(data)):
            if self.stopping.wait(self.pause):
                break
            self.out.write(data[i : i + 1])
            self.out.flush()
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def _handler_for(fake: FakeDatafiniti) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeDatafiniti/1"
        timeout = 30  # idle keep-alive connections

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the fake records requests in fake.requests instead

        def do_GET(self) -> None:
            self._handle()

        def do_HEAD(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def do_DELETE(self) -> None:
            self._handle()

        def _handle(self) -> None:
            try:
                self._dispatch()
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                self.close_connection = True  # the client gave up (e.g. its read timeout)

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(self.headers.items())
            recorded = RecordedRequest(self.command, parts.path, parts.query, headers, body)
            with fake.lock:
                fake.requests.append(recorded)
            fault = fake._fault_for(_relative(parts.path))
            if fault is not None and fault.delay:
                fake._stopping.wait(fault.delay)
            if fault is not None and fault.status is not None:
                if parts.path.startswith(_S3_PREFIX):
                    answer = _s3_error(fault.status, "InjectedFault", "injected", parts.path)
                else:
                    answer = _error(fault.status, "injected fault")
            else:
                answer = fake._route(self.command, parts.path, parts.query, headers, body)
            if fault is not None:
                if fault.body is not None:
                    answer.body = fault.body
                if fault.content_type is not None:
                    answer.content_type = fault.content_type
                if fault.retry_after is not None:
                    answer.headers["Retry-After"] = fault.retry_after
                answer.headers.update(fault.headers)
                if fault.gzip:
                    _gzip_answer(answer, headers)
            wfile = self.wfile
            if fault is not None and fault.trickle:
                self.wfile = _Trickling(
                    wfile, fault.trickle, fake._stopping, whole=int(fault.trickle_body)
                )
            try:
                self._write(
                    answer,
                    truncate=fault is not None and fault.truncate,
                    chunked=fault is not None and fault.chunked,
                )
            finally:
                self.wfile = wfile

        def _write(self, answer: _Answer, *, truncate: bool, chunked: bool) -> None:
            self.send_response(answer.status)
            if answer.content_type:
                self.send_header("Content-Type", answer.content_type)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            else:
                self.send_header("Content-Length", str(len(answer.body)))
            if truncate:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command == "HEAD":
                return
            if chunked:
                step = 64 * 1024
                for start in range(0, len(answer.body), step):
                    piece = answer.body[start : start + step]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                self.wfile.write(b"0\r\n\r\n")
            elif truncate:
                self.wfile.write(answer.body[: len(answer.body) // 2])
            else:
                self.wfile.write(answer.body)
            self.wfile.flush()

    return Handler


# --------------------------------------------------------------------------------------------
# Realistic records

_BASE_DATE = datetime(2016, 1, 1, tzinfo=timezone.utc)
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_BRANDS = ["Apple", "Samsung", "Sony", "Nike", "KitchenAid", "Bose", "Lenovo", "Adidas"]
_PRODUCT_WORDS = ["Laptop", "Running Shoe", "Coffee Maker", "Headphones", "Smartwatch", "Blender"]
_CATEGORIES = {
    "product": ["Electronics", "Computers", "Shoes", "Kitchen", "Audio", "Home", "Sports"],
    "business": ["Restaurant", "Coffee Shop", "Hotel", "Dentist", "Bakery", "Bar", "Gym"],
}
_MERCHANTS = ["Walmart.com", "Bestbuy.com", "Amazon.com", "Target.com", "eBay"]
# (city, province, a ZIP code prefix, latitude, longitude): several New England ZIPs start with 0.
_PLACES = [
    ("Boston", "MA", "021", 42.3601, -71.0589),
    ("Hoboken", "NJ", "070", 40.7440, -74.0324),
    ("Hartford", "CT", "061", 41.7658, -72.6734),
    ("Portland", "ME", "041", 43.6591, -70.2568),
    ("Austin", "TX", "787", 30.2672, -97.7431),
    ("San Francisco", "CA", "941", 37.7749, -122.4194),
    ("Chicago", "IL", "606", 41.8781, -87.6298),
]
_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Washington Blvd", "2nd St", "Elm St"]
_FIRST = ["Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jamal"]
_LAST = ["Garcia", "Smith", "Nguyen", "Okafor", "Rossi", "Kim", "Novak", "Silva", "Brown"]
_JOBS = ["Data Scientist", "Software Engineer", "Product Manager", "Nurse", "Accountant"]
_REVIEW_TEXT = [
    "Great value, works as described.",
    'Stopped working after a week, "support" never answered.',
    "Fast shipping, friendly staff, would recommend",
    "Average.\nNothing special, but fine for the price.",
    "Loved it; bought a second one for my parents.",
]
_PROPERTY_TYPES = ["Single Family Dwelling", "Condo", "Townhouse", "Multi-Family"]

# CSV column order by data type: scalar fields, then each nested list's keys.
_SCALARS = {
    "product": ["id", "dateAdded", "dateUpdated", "name", "brand", "categories", "upc"],
    "business": [
        "id",
        "dateAdded",
        "dateUpdated",
        "name",
        "address",
        "city",
        "province",
        "postalCode",
        "country",
        "latitude",
        "longitude",
        "categories",
    ],
    "property": [
        "id",
        "dateAdded",
        "dateUpdated",
        "address",
        "city",
        "province",
        "postalCode",
        "country",
        "latitude",
        "longitude",
        "propertyType",
        "numBedroom",
    ],
    "people": [
        "id",
        "dateAdded",
        "dateUpdated",
        "firstName",
        "lastName",
        "jobTitle",
        "businessName",
        "city",
        "province",
        "postalCode",
        "country",
        "emails",
    ],
}
_PRICE_KEYS = ["amountMax", "amountMin", "currency", "isSale", "merchant", "dateSeen"]
_REVIEW_KEYS = ["date", "rating", "text", "title", "username"]
_NESTED = {
    "product": [("prices", _PRICE_KEYS), ("reviews", _REVIEW_KEYS)],
    "business": [("reviews", _REVIEW_KEYS)],
    "property": [("prices", _PRICE_KEYS)],
    "people": [],
}
_TRAILING = ["keys", "sourceURLs"]


def _when(rng: random.Random, after: datetime, days: int) -> datetime:
    return after + timedelta(seconds=rng.randrange(days * 86_400))


def _price(rng: random.Random, low: float, high: float, added: datetime) -> dict[str, Any]:
    amount_min = round(rng.uniform(low, high), 2)
    return {
        "amountMax": round(amount_min * rng.choice([1.0, 1.0, 1.15, 1.3]), 2),
        "amountMin": amount_min,
        "currency": "USD",
        "isSale": rng.random() < 0.3,
        "merchant": rng.choice(_MERCHANTS),
        "dateSeen": [_iso(_when(rng, added, 400)) for _ in range(rng.randint(1, 2))],
    }


def _review(rng: random.Random, added: datetime) -> dict[str, Any]:
    return {
        "date": _iso(_when(rng, added, 700)),
        "rating": rng.randint(1, 5),
        "text": rng.choice(_REVIEW_TEXT),
        "title": rng.choice(["Great", "Meh", "Do not buy", "Five stars", "Okay, I guess"]),
        "username": rng.choice(_FIRST).lower() + str(rng.randint(1, 999)),
    }


def _record(rng: random.Random, data_type: str) -> dict[str, Any]:
    added = _when(rng, _BASE_DATE, 3_000)
    updated = _when(rng, added, 900)
    rec: dict[str, Any] = {
        "id": "AV" + "".join(rng.choices(_ALNUM, k=18)),
        "dateAdded": _iso(added),
        "dateUpdated": _iso(updated),
    }
    city, province, zip3, lat, lon = rng.choice(_PLACES)
    postal = zip3 + f"{rng.randrange(100):02d}"
    street = f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}"
    coords = {
        "latitude": f"{lat + rng.uniform(-0.05, 0.05):.5f}",
        "longitude": f"{lon + rng.uniform(-0.05, 0.05):.5f}",
    }
    if data_type == "product":
        brand = rng.choice(_BRANDS)
        rec.update(
            name=f"{brand} {rng.choice(_PRODUCT_WORDS)} {rng.choice(['Pro', 'Mini', 'X', '2'])}",
            brand=brand,
            categories=rng.sample(_CATEGORIES["product"], 2),
            # A 20-digit GTIN-like string: a float64 cannot hold it exactly.
            upc="".join(rng.choices("0123456789", k=20)),
            prices=[_price(rng, 9, 999, added) for _ in range(rng.randint(1, 3))],
            reviews=[_review(rng, added) for _ in range(rng.randint(0, 3))],
        )
    elif data_type == "business":
        rec.update(
            name=f"{rng.choice(_LAST)}'s {rng.choice(_CATEGORIES['business'])}",
            address=street,
            city=city,
            province=province,
            postalCode=postal,
            country="US",
            **coords,
            categories=rng.sample(_CATEGORIES["business"], 2),
            reviews=[_review(rng, added) for _ in range(rng.randint(0, 4))],
        )
    elif data_type == "property":
        rec.update(
            address=street,
            city=city,
            province=province,
            postalCode=postal,
            country="US",
            **coords,
            propertyType=rng.choice(_PROPERTY_TYPES),
            numBedroom=rng.randint(1, 6),
            prices=[_price(rng, 150_000, 2_500_000, added) for _ in range(rng.randint(1, 2))],
        )
    else:
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        rec.update(
            firstName=first,
            lastName=last,
            jobTitle=rng.choice(_JOBS),
            businessName=f"{rng.choice(_LAST)} & Co",
            city=city,
            province=province,
            postalCode=postal,
            country="US",
            emails=[f"{first}.{last}@example.com".lower()],
        )
    rec["keys"] = [f"{data_type}/{rec['id'].lower()}"]
    rec["sourceURLs"] = [f"https://www.example.com/{data_type}/{rec['id']}"]
    return rec


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, list):
        return ",".join(_cell(v) for v in value)
    return str(value)


def _to_csv(records: list[dict[str, Any]], data_type: str) -> bytes:
    scalars = _SCALARS.get(data_type, _SCALARS["product"])
    nested = _NESTED.get(data_type, [])
    header = scalars + [f"{name}.{key}" for name, keys in nested for key in keys] + _TRAILING
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for rec in records:
        head = [_cell(rec.get(name)) for name in scalars]
        tail = [_cell(rec.get(name)) for name in _TRAILING]
        rows = max([len(rec.get(name) or []) for name, _ in nested] + [1])
        for j in range(rows):
            middle: list[str] = []
            for name, keys in nested:
                items = rec.get(name) or []
                item = items[j] if j < len(items) else {}
                middle.extend(_cell(item.get(key)) for key in keys)
            writer.writerow(head + middle + tail)
    return out.getvalue().encode()

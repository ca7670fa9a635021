"""``Client``: the Datafiniti v4 downloads API, with retries, deadlines and typed errors.

One :class:`Client` talks to one API base URL. The network layer beneath it (the one retry
policy, redirects, the result-files session, answers to errors) is :mod:`dfkit.transport`;
what it never shows (the token, the password, S3 signatures) is :mod:`dfkit.redaction`'s job.

Every call has a per-request ``timeout`` and an overall ``deadline`` (retries and their waits
included). The token is attached only to the API's own scheme, host and port (never from
``~/.netrc``); result-file links (pre-signed S3 URLs) are fetched through
:attr:`Client.files_session`, which never carries an ``Authorization`` header or cookies.

**Threads**: the API calls (:meth:`~Client.downloads`, :meth:`~Client.download`,
:meth:`~Client.start_download`, :meth:`~Client.wait`) and :meth:`~Client.open_result` may be
called from several threads at once on one client (``fetch_results`` does); after a 401 one
thread logs in again while the others wait for it and reuse the new token. Making, closing and
using the client as a context manager belong to one thread.

>>> from dfkit.testing import FakeDatafiniti
>>> with FakeDatafiniti(downloads=[{"id": "1", "status": "completed"}]) as fake:
...     with Client(fake.token, base_url=fake.url) as client:
...         [d["status"] for d in client.downloads()]
['completed']
"""

from __future__ import annotations

import http.client
import logging
import os
import threading
import warnings
from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import requests

from dfkit import transport
from dfkit.errors import (
    APIError,
    ArgumentError,
    AuthenticationError,
    DfkitWarning,
    DownloadCancelled,
    DownloadFailed,
    NetworkError,
    ResponseError,
    WaitTimeout,
)
from dfkit.progress import WaitBar, interactive
from dfkit.redaction import (
    Secret,
    install_log_redaction,
    register_secret,
    shown_url,
    unregister_secret,
)
from dfkit.vocabulary import (
    CANCELLED_STATUSES,
    DATA_TYPE_ENDPOINTS,
    DATA_TYPE_SPELLINGS,
    IN_FLIGHT_STATUSES,
)

__all__ = [
    "BASE_URL_ENV",
    "CANCELLED_STATUSES",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_BODY_BYTES",
    "IN_FLIGHT_STATUSES",
    "TOKEN_ENV",
    "Client",
]

DEFAULT_BASE_URL = "https://api.datafiniti.co/v4"
#: ``Client(max_body_bytes=)``'s default: 2 GiB, about 1.5 million downloads in the API's shape.
DEFAULT_MAX_BODY_BYTES = 2 * 1024**3
#: Environment variables read when ``token`` / ``base_url`` are not given.
TOKEN_ENV = "DATAFINITI_API_TOKEN"
BASE_URL_ENV = "DATAFINITI_API_URL"

_FORMATS = ("JSON", "CSV")
_TOKEN_HINT = f"check the token ({TOKEN_ENV}) or log in again"

logger = logging.getLogger(__name__)


class Client:
    """Return a client for the Datafiniti v4 API (``token`` defaults to ``$DATAFINITI_API_TOKEN``).

    ``base_url`` defaults to ``$DATAFINITI_API_URL`` or the real API; plain ``http`` is accepted
    only for a loopback host (a local fake server). ``timeout`` is ``(connect, read)`` seconds
    for every request; ``deadline`` the seconds one API call may take in all (retries, their
    waits and reading the answer included; ``None`` for no limit); ``max_retries`` counts
    retries after the first attempt; ``max_body_bytes`` caps an answer's size (default 2 GiB,
    enough for a large account's ``GET /downloads``). A ``session`` you pass is used for API
    calls (dfkit mounts its retrying adapters on it for the API's URLs and does not close it);
    result files always go through :attr:`files_session`.

    >>> from dfkit.testing import FakeDatafiniti
    >>> with FakeDatafiniti() as fake, Client(fake.token, base_url=fake.url) as client:
    ...     d = client.start_download("products", "brand:Apple", num_records=20)
    ...     client.wait(d["id"], poll_interval=0, progress=False)["status"]
    'completed'
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str | None = None,
        timeout: float | tuple[float, float] = (10, 60),
        deadline: float | None = 300.0,
        max_retries: int = 5,
        session: requests.Session | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
        self.base_url = transport.check_base_url(base_url)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ArgumentError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        if deadline is not None and not deadline > 0:
            raise ArgumentError(f"deadline must be a positive number of seconds, got {deadline!r}")
        self.timeout = timeout
        self.deadline = deadline
        self.max_retries = max_retries
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ArgumentError(
                f"max_body_bytes must be a positive integer, got {max_body_bytes!r}"
            )
        if max_body_bytes < 1:
            raise ArgumentError(
                f"max_body_bytes must be a positive integer, got {max_body_bytes!r}"
            )
        #: Answers larger than this are refused without being read whole.
        self.max_body_bytes = max_body_bytes
        self._token: Secret | None = None
        self._credentials: tuple[str, Secret] | None = None
        # Held while logging in again: other threads that got a 401 wait, then reuse the token.
        self._login_lock = threading.Lock()
        if token is None:
            token = os.environ.get(TOKEN_ENV)
        self._set_token(token)

        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._owns_session:
            self.session.headers["User-Agent"] = transport.USER_AGENT
        posts = ["auth"] + [f"{plural}/search" for plural in sorted(DATA_TYPE_ENDPOINTS.values())]
        transport.mount_retries(self.session, self.base_url + "/", max_retries, post_paths=posts)

        #: The session for result-file links: the same retry policy, no auth, no cookies.
        self.files_session: requests.Session = transport.result_files_session(
            max_retries, pool_maxsize=16
        )
        install_log_redaction()  # loggers created since import (urllib3.contrib, ...)
        if http.client.HTTPConnection.debuglevel > 0:
            warnings.warn(
                "http.client.HTTPConnection.debuglevel is set: the standard library prints "
                "every request's headers, the API token included, bypassing dfkit's redaction",
                DfkitWarning,
                stacklevel=2,
            )

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def login(cls, email: str, password: str, **kwargs: Any) -> Client:
        """Return a client that logged in with ``POST /auth`` (and logs in again after a 401).

        ``kwargs`` are :class:`Client`'s (``base_url``, ``timeout``, ...) except ``token``; a
        token from the environment is ignored.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti(email="me@example.com", password="s3cret!") as fake:
        ...     client = Client.login("me@example.com", "s3cret!", base_url=fake.url)
        ...     client
        Client(base_url='http://127.0.0.1:...', token=set, login=True)
        >>> client.close()
        """
        # From here on no frame holds the bare password (traceback locals would show it).
        secret = Secret(password)
        del password
        register_secret(secret.value)
        try:
            client = cls(token="", **kwargs)
        except BaseException:
            unregister_secret(secret.value)
            raise
        client._credentials = (email, secret)
        try:
            client._authenticate(None)
        except BaseException:
            client.close()
            raise
        return client

    def _set_token(self, token: str | None) -> None:
        token = (token or "").strip()
        if token and not all(33 <= ord(ch) <= 126 for ch in token):
            # Never echo it: requests' own error would print the whole header.
            raise ArgumentError("the API token contains spaces or control characters")
        new = Secret(token) if token else None
        if new is not None:
            register_secret(token)
        old, self._token = self._token, new  # one assignment: readers see old or new, whole
        if old is not None:
            unregister_secret(old.value)

    def _authenticate(self, refused: Secret | None) -> None:
        """Log in, unless another thread already replaced the ``refused`` token meanwhile."""
        assert self._credentials is not None
        with self._login_lock:
            if refused is not None and self._token is not refused:
                return  # another thread logged in while this one waited: reuse its token
            email, password = self._credentials
            body = Secret(orjson.dumps({"email": email, "password": password.value}))
            data = self._request("POST", "/auth", body=body, authenticating=True)
            token = data.get("token") if isinstance(data, dict) else None
            if not isinstance(token, str) or not token.strip():
                raise ResponseError("POST /auth answered without a token")
            self._set_token(token)
        logger.debug("logged in to %s", self.base_url)

    # -- public API -------------------------------------------------------------------------

    def downloads(self) -> list[dict[str, Any]]:
        """Return every download of the account (``GET /downloads``) as a list of dicts.

        Accepts the bare JSON array and the ``{"records": [...]}`` form.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti(downloads=[{"id": "7", "status": "queued"}],
        ...                     wrap_records=True) as fake:
        ...     Client(fake.token, base_url=fake.url).downloads()[0]["id"]
        '7'
        """
        data = self._request("GET", "/downloads")
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list):
            raise ResponseError(
                "GET /downloads: expected a JSON array or an object with a 'records' array, "
                f"got {_json_type(data)}"
            )
        for i, item in enumerate(data):
            if not isinstance(item, dict):
                raise ResponseError(
                    f"GET /downloads: records[{i}] should be an object, got {_json_type(item)}"
                )
        return data

    def downloads_json(self) -> bytes:
        """Return the body of ``GET /downloads`` as it came: JSON bytes, not parsed.

        For :func:`dfkit.downloads_frame`, whose typed decode of the bytes makes no Python
        object per download. The body is checked as every answer is (status, size limit,
        not HTML, not empty), not parsed.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti(downloads=[{"id": "7", "status": "queued"}]) as fake:
        ...     Client(fake.token, base_url=fake.url).downloads_json()[:11]
        b'[{"id":"7",'
        """
        body: bytes = self._request("GET", "/downloads", raw=True)
        return body

    def download(self, download_id: str | int) -> dict[str, Any]:
        """Return one download object (``GET /downloads/{id}``); free of charge.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti(downloads=[{"id": "7", "status": "queued"}]) as fake:
        ...     Client(fake.token, base_url=fake.url).download(7)["status"]
        'queued'
        """
        return self._object("GET", _download_path(download_id))

    def start_download(
        self,
        data_type: str,
        query: str,
        *,
        num_records: int,
        format: str = "JSON",
        view: str | None = None,
    ) -> dict[str, Any]:
        """Return the new download object after starting a download; **this spends credits**.

        ``POST /{businesses|products|properties|people}/search`` with ``download: true``.
        ``data_type`` accepts singular or plural (``"product"``, ``"products"``);
        ``num_records`` is required and must be positive: without it the API would sell every
        matching record. The POST is never resent after the server may have received it, and
        never to another origin.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti() as fake:
        ...     d = Client(fake.token, base_url=fake.url).start_download(
        ...         "business", "city:Austin", num_records=5, format="csv")
        ...     d["status"], d["data_type"], d["format"], d["results"]
        ('queued', 'business', 'CSV', [])
        """
        plural = DATA_TYPE_SPELLINGS.get(str(data_type).strip().lower())
        if plural is None:
            known = ", ".join(sorted(DATA_TYPE_SPELLINGS))
            raise ArgumentError(f"data_type must be one of {known}; got {data_type!r}")
        if not isinstance(query, str) or not query.strip():
            raise ArgumentError("query must be a non-empty string")
        if isinstance(num_records, bool) or not isinstance(num_records, int) or num_records <= 0:
            raise ArgumentError(
                f"num_records must be a positive integer, got {num_records!r} "
                "(the API would otherwise sell every matching record)"
            )
        fmt = str(format).strip().upper()
        if fmt not in _FORMATS:
            raise ArgumentError(f"format must be 'JSON' or 'CSV', got {format!r}")
        request: dict[str, Any] = {
            "query": query,
            "format": fmt,
            "num_records": num_records,
            "download": True,
        }
        if view is not None:
            request["view"] = view
        return self._object("POST", f"/{plural}/search", body=Secret(orjson.dumps(request)))

    def wait(
        self,
        download_id: str | int,
        *,
        timeout: float | None = None,
        poll_interval: float = 5.0,
        progress: bool | None = None,
    ) -> dict[str, Any]:
        """Return the download object once its status is ``completed``, polling every few seconds.

        It polls only while the status is one of :data:`IN_FLIGHT_STATUSES` (``queued``,
        ``running``, ``started``, ``in_progress``; trimmed and lower-cased). It raises
        :class:`~dfkit.errors.DownloadCancelled` for ``cancelled`` / ``canceled`` and
        :class:`~dfkit.errors.DownloadFailed` (``.download``) for any other status
        (``failed``, ``error``, none at all). ``timeout`` is a deadline in seconds: no poll, retry
        or ``Retry-After`` wait runs past it, and then :class:`~dfkit.errors.WaitTimeout`
        (``.last`` = the last object seen) is raised. ``progress`` shows the records done out of
        ``num_records`` and the status; by default only when stderr is a terminal or the code
        runs in a notebook.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti() as fake, Client(fake.token, base_url=fake.url) as client:
        ...     d = client.start_download("people", "country:US", num_records=3)
        ...     done = client.wait(d["id"], poll_interval=0, progress=False)
        ...     done["num_downloaded"], len(done["results"])
        (3, 1)
        """
        if not poll_interval >= 0:
            raise ArgumentError(f"poll_interval must be >= 0, got {poll_interval!r}")
        if timeout is not None and not timeout >= 0:
            raise ArgumentError(f"timeout must be >= 0 seconds or None, got {timeout!r}")
        show = interactive() if progress is None else bool(progress)
        deadline = None if timeout is None else transport.monotonic() + timeout
        path = _download_path(download_id)
        bar = WaitBar(f"download {download_id}", show=show)
        last: dict[str, Any] | None = None
        try:
            while True:
                try:
                    current = self._object("GET", path, retry_deadline=deadline)
                except (NetworkError, APIError) as exc:
                    if deadline is not None and transport.monotonic() >= deadline:
                        raise WaitTimeout(
                            f"download {download_id}: no answer within the {timeout:g} s "
                            f"timeout ({exc})",
                            last,
                        ) from exc
                    raise
                last = current
                raw = str(current.get("status") or "").strip()
                status = raw.lower()
                bar.update(current, IN_FLIGHT_STATUSES.get(status, status))
                if status == "completed":
                    return current
                if status in CANCELLED_STATUSES:
                    raise DownloadCancelled(f"download {download_id} was cancelled", current)
                if status not in IN_FLIGHT_STATUSES:
                    shown = repr(raw) if raw else "none"
                    raise DownloadFailed(
                        f"download {download_id} ended with status {shown}, not completed",
                        current,
                    )
                pause = poll_interval
                if deadline is not None:
                    left = deadline - transport.monotonic()
                    if left <= 0:
                        raise WaitTimeout(
                            f"download {download_id} still {raw} after {timeout:g} s",
                            current,
                        )
                    pause = min(pause, left)
                transport.sleep(pause)
        finally:
            bar.close()

    def open_result(
        self,
        url: str,
        *,
        stream: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Return the response for a result-file link, fetched without any credentials.

        Uses :attr:`files_session` with the client's timeout and the GET retry policy. Only
        https links are fetched (http on loopback only), and every redirect hop is checked the
        same way before it is requested (:class:`~dfkit.errors.APIError` if refused). The status
        is *not* checked: a ``403`` whose XML body says ``AccessDenied`` / ``Request has
        expired`` means the link expired (``client.download(id)`` has fresh ones). Connection
        failures raise :class:`~dfkit.errors.NetworkError` with the signature redacted. Close
        the response (or use it as a context manager) when done.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti() as fake, Client(fake.token, base_url=fake.url) as client:
        ...     d = client.start_download("products", "brand:Sony", num_records=2, format="CSV")
        ...     d = client.wait(d["id"], poll_interval=0, progress=False)
        ...     with client.open_result(d["results"][0]) as r:
        ...         r.status_code, r.text.splitlines()[0][:30]
        (200, 'id,dateAdded,dateUpdated,name,')
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise ArgumentError(f"result links must be http(s) URLs, got scheme {scheme!r}")
        problem = transport.link_problem(url)
        if problem:
            raise ArgumentError(problem)
        try:
            return self.files_session.get(
                url, stream=stream, timeout=self.timeout, headers=dict(headers or {})
            )
        except requests.RequestException as exc:
            raise transport.network_error(exc, f"GET {shown_url(url)}") from None

    def close(self) -> None:
        """Close the sessions this client opened (not a ``session`` passed in)."""
        if self._owns_session:
            self.session.close()
        self.files_session.close()
        self._set_token(None)
        if self._credentials is not None:
            unregister_secret(self._credentials[1].value)
            self._credentials = None

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        token = "set" if self._token is not None else "unset"
        return (
            f"{type(self).__name__}(base_url={self.base_url!r}, token={token}, "
            f"login={self._credentials is not None})"
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _object(
        self,
        method: str,
        path: str,
        *,
        body: Secret | None = None,
        retry_deadline: float | None = None,
    ) -> dict[str, Any]:
        data = self._request(method, path, body=body, retry_deadline=retry_deadline)
        if not isinstance(data, dict):
            raise ResponseError(f"{method} {path}: expected a JSON object, got {_json_type(data)}")
        return data

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Secret | None = None,
        authenticating: bool = False,
        retry_deadline: float | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one API call (re-logging in once after a 401) and return its parsed JSON body.

        ``raw``: return the checked body as bytes instead of parsing it.

        ``retry_deadline`` (a :data:`dfkit.transport.monotonic` time) ends the retry waits
        sooner than the call's own deadline.
        """
        where = f"{method} {path}"
        deadline = None if self.deadline is None else transport.monotonic() + self.deadline
        relogged = False
        while True:
            token = self._token
            if token is None and not authenticating:
                raise AuthenticationError(
                    "No Datafiniti API token: pass Client(token=...), set the "
                    f"{TOKEN_ENV} environment variable, or use Client.login(email, password)"
                )
            response = transport.send(
                self.session,
                method,
                self.base_url + path,
                where=where,
                token=None if authenticating else token,
                body=body,
                timeout=self.timeout,
                deadline=deadline,
                retry_deadline=retry_deadline,
                follow="never" if authenticating else ("get" if method == "GET" else "post"),
            )
            with response:
                if (
                    response.status_code == 401
                    and self._credentials is not None
                    and not authenticating
                    and not relogged
                ):
                    # A 401 means the call was refused, so replaying it (even the POST) is safe.
                    logger.info("%s answered 401: logging in again", where)
                    relogged = True
                    self._authenticate(token)
                    continue
                return self._parse(response, where, deadline, authenticating, raw)

    def _parse(
        self,
        response: requests.Response,
        where: str,
        deadline: float | None,
        authenticating: bool,
        raw: bool,
    ) -> Any:
        if not response.ok:
            # Built by a function that returns it, so that no frame of the traceback holds the
            # raw body (it may echo the password) as a local.
            hint = None if authenticating else _TOKEN_HINT
            raise transport.error_for(response, where, deadline=deadline, hint_401=hint)
        body = transport.read_body(response, where, limit=self.max_body_bytes, deadline=deadline)
        if raw:
            return transport.checked_json(response, body, where)
        return transport.parse_json(response, body, where)


def _download_path(download_id: str | int) -> str:
    return f"/downloads/{quote(str(download_id), safe='')}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )

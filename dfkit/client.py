"""``Client``: the Datafiniti v4 downloads API over ``requests``, with retries and typed errors.

One :class:`Client` talks to one API base URL. Every request has a timeout; retries are
urllib3's :class:`~urllib3.util.retry.Retry` on a ``requests`` ``HTTPAdapter`` (never a
hand-written loop):

* ``GET``: connection errors, read timeouts, 429, 500, 502, 503 and 504, at most
  ``max_retries`` times after the first attempt, with jittered exponential backoff.
* ``POST /auth`` and the search ``POST`` (which may start a paid download): only connection
  errors (the request never reached the server) and 429/503. Never a read error or a
  500/502/504, after which the server may already have started the download.
* ``Retry-After`` (seconds or an HTTP date) is honoured up to 60 s; a value that cannot be
  parsed falls back to the backoff.

Security: the token is attached by a ``requests`` auth handler (so ``~/.netrc`` cannot replace
it) and only to the API's own scheme, host and port; result-file links (pre-signed S3 URLs) are
fetched through :attr:`Client.files_session`, a separate session that never carries an
``Authorization`` header or cookies. The token and password never appear in ``repr``, in
exception messages or in log records (urllib3's included), and URL query strings (S3
signatures) are replaced by ``?<redacted>``.

>>> from dfkit.testing import FakeDatafiniti
>>> with FakeDatafiniti(downloads=[{"id": "1", "status": "completed"}]) as fake:
...     with Client(fake.token, base_url=fake.url) as client:
...         [d["status"] for d in client.downloads()]
['completed']
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from dfkit._version import __version__
from dfkit.errors import (
    APIError,
    AuthenticationError,
    DownloadCancelled,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ServerError,
    WaitTimeout,
)

__all__ = ["DEFAULT_BASE_URL", "Client", "ResultFilesSession", "redact"]

DEFAULT_BASE_URL = "https://api.datafiniti.co/v4"
#: ``Client(max_body_bytes=)``'s default: 2 GiB, about 1.5 million downloads in the API's shape.
DEFAULT_MAX_BODY_BYTES = 2 * 1024**3
#: Environment variables read when ``token`` / ``base_url`` are not given.
TOKEN_ENV = "DATAFINITI_API_TOKEN"
BASE_URL_ENV = "DATAFINITI_API_URL"
#: The longest ``Retry-After`` dfkit waits for, in seconds.
RETRY_AFTER_CAP = 60.0
#: Statuses retried on GET, and on the POSTs that may start a paid download.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
POST_RETRY_STATUSES = frozenset({429, 503})

_DATA_TYPES = {
    "business": "businesses",
    "businesses": "businesses",
    "product": "products",
    "products": "products",
    "property": "properties",
    "properties": "properties",
    "people": "people",
    "person": "people",
}
_FORMATS = ("JSON", "CSV")

# Patched by tests (and by anyone who wants ``wait`` and the retry backoff to use another clock).
_sleep = time.sleep
_monotonic = time.monotonic

logger = logging.getLogger(__name__)

_USER_AGENT = f"dfkit/{__version__}"


# --------------------------------------------------------------------------------------------
# Redaction


class _Secret:
    """A string that shows as ``'***'`` in ``repr`` (and so in debuggers and traceback locals)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


_secrets_lock = threading.Lock()
_secrets: dict[str, int] = {}  # secret -> number of live clients holding it
# A query string: "?" followed by something with an "=" (S3 signatures, tokens in URLs).
_QUERY = re.compile(r"\?(?=[^\s'\"<>]*=)[^\s'\"<>)]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",}]+")
# Secrets shorter than this are not scrubbed from free text: replacing every "ab" in a log line
# would garble it, and short strings are never written anywhere by dfkit or urllib3 anyway.
_MIN_SECRET = 4


def _register_secret(secret: str) -> None:
    if len(secret) >= _MIN_SECRET:
        with _secrets_lock:
            _secrets[secret] = _secrets.get(secret, 0) + 1


def _unregister_secret(secret: str) -> None:
    with _secrets_lock:
        left = _secrets.get(secret, 0) - 1
        if left > 0:
            _secrets[secret] = left
        else:
            _secrets.pop(secret, None)


def redact(text: str) -> str:
    """Return ``text`` with URL query strings, bearer tokens and live clients' secrets masked.

    >>> redact("GET https://x.s3.amazonaws.com/1_0.csv?X-Amz-Signature=abc failed")
    'GET https://x.s3.amazonaws.com/1_0.csv?<redacted> failed'
    >>> redact("Authorization: Bearer abc.def")
    'Authorization: Bearer ***'
    """
    text = _QUERY.sub("?<redacted>", text)
    text = _BEARER.sub(r"\1 ***", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback text) through :func:`redact`.

    It is attached to the *loggers* that emit records (``urllib3.connectionpool``, ...), not to
    handlers: a logger's filters run once, when the record is made, so every handler that sees
    it later (the root's, pytest's ``caplog``, a notebook's) gets the scrubbed record. A filter
    on the ``urllib3`` parent logger would not run for records of its children.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = _RedactingFilter()
_LOGGER_PREFIXES = ("urllib3", "requests", "dfkit")
_KNOWN_LOGGERS = (
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
    "requests",
    "dfkit",
    __name__,
)


def _install_log_redaction() -> None:
    """Attach the redacting filter to every urllib3, requests and dfkit logger (idempotent)."""
    names = set(_KNOWN_LOGGERS)
    names.update(
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".", 1)[0] in _LOGGER_PREFIXES
    )
    for name in names:
        log = logging.getLogger(name)
        if _FILTER not in log.filters:
            log.addFilter(_FILTER)


_install_log_redaction()


# --------------------------------------------------------------------------------------------
# Transport: retries, auth, the result-files session


class _Retry(Retry):
    """urllib3's ``Retry`` with ``Retry-After`` capped at 60 s and garbage values ignored."""

    # 413 with Retry-After is not a reason to resend a request to this API.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:  # not seconds, not an HTTP date: use the backoff instead
            return None
        return None if seconds is None else min(seconds, RETRY_AFTER_CAP)

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        if seconds:
            _sleep(seconds)
            return True
        return False

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        if self.respect_retry_after_header and response and self.sleep_for_retry(response):
            return
        backoff = self.get_backoff_time()
        if backoff > 0:
            _sleep(backoff)


def _retry(max_retries: int, *, post: bool) -> Retry:
    return _Retry(
        total=max_retries,
        connect=max_retries,
        # After a POST was sent the server may have started a paid download: never resend it.
        read=False if post else max_retries,
        status=max_retries,
        other=0,  # TLS and other errors do not heal by retrying
        redirect=None,  # requests follows redirects itself
        allowed_methods=frozenset({"POST"}) if post else frozenset({"GET", "HEAD"}),
        status_forcelist=POST_RETRY_STATUSES if post else RETRY_STATUSES,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        backoff_max=30.0,
        raise_on_status=False,  # hand back the last answer: dfkit turns it into a typed error
        respect_retry_after_header=True,
    )


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _BearerAuth(AuthBase):
    """Adds ``Authorization: Bearer <token>`` to requests for the API's own origin only."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._client._token
        if token is not None and _origin(r.url or "") == self._client._origin:
            r.headers["Authorization"] = f"Bearer {token.value}"
        else:
            r.headers.pop("Authorization", None)
        return r

    def __repr__(self) -> str:
        return "<dfkit bearer auth>"


class _NoAuth(AuthBase):
    """Removes any ``Authorization`` header (and so keeps ``~/.netrc`` credentials away)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.pop("Authorization", None)
        return r


class ResultFilesSession(requests.Session):
    """A ``requests.Session`` for pre-signed result-file links: no auth and no cookies, ever.

    Pre-signed S3 links carry their signature in the query string; sending the API token there
    would leak it (and S3 rejects two auth mechanisms). This session removes any
    ``Authorization`` header, also after redirects (where ``requests`` would otherwise apply
    ``~/.netrc``), and refuses to store cookies. Proxy settings from the environment still apply.

    >>> s = ResultFilesSession()
    >>> s.prepare_request(requests.Request("GET", "https://x/1.csv?sig=1",
    ...     headers={"Authorization": "Bearer t"})).headers.get("Authorization") is None
    True
    >>> s.close()
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = _NoAuth()
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.headers["User-Agent"] = _USER_AGENT

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: Any) -> None:
        prepared_request.headers.pop("Authorization", None)


# --------------------------------------------------------------------------------------------
# Errors


def _snippet(body: bytes, limit: int = 200) -> str:
    text = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def _looks_like_markup(body: bytes) -> str | None:
    head = body.lstrip()[:100].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    if head.startswith(b"<"):
        return "XML" if head.startswith(b"<?xml") or b"<error" in head else "HTML or XML"
    return None


def _api_error(response: requests.Response, body: bytes, where: str) -> APIError:
    status = response.status_code
    error: str | None = None
    message: str | None = None
    details: list[Any] | None = None
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        error = parsed.get("error") if isinstance(parsed.get("error"), str) else None
        raw_message = parsed.get("message")
        message = raw_message if isinstance(raw_message, str) else None
        raw_details = parsed.get("details")
        details = raw_details if isinstance(raw_details, list) else None
    if message is None:
        message = _snippet(body) or None
    error = redact(error) if error else (response.reason or None)
    message = redact(message) if message else None
    text = f"{status} {error or 'error'}" + (f": {message}" if message else "") + f" ({where})"
    kwargs: dict[str, Any] = {
        "status": status,
        "error": error,
        "api_message": message,
        "details": details,
        "url": redact(response.url or ""),
    }
    if status in (401, 403):
        if status == 401 and not where.endswith(" /auth"):
            text += f"; check the token ({TOKEN_ENV}) or log in again"
        return AuthenticationError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status == 429:
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        return RateLimitError(text, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ServerError(text, **kwargs)
    return APIError(text, **kwargs)


def _network_error(exc: requests.RequestException, where: str) -> NetworkError:
    # Once retries are spent requests wraps urllib3's MaxRetryError in a plain ConnectionError:
    # name the underlying failure.
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    if isinstance(exc, requests.ConnectTimeout) or (
        isinstance(reason, ConnectTimeoutError) and not isinstance(reason, NewConnectionError)
    ):
        kind = "connection timed out"
    elif isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
        kind = "no answer within the read timeout"
    elif isinstance(exc, requests.exceptions.SSLError):
        kind = "TLS error"
    elif isinstance(exc, requests.ConnectionError):
        kind = "connection failed"
    else:
        kind = type(exc).__name__
    return NetworkError(f"{kind} ({where}): {redact(str(exc))}")


# --------------------------------------------------------------------------------------------
# The client


def _interactive() -> bool:
    """True when stderr is a terminal or the code runs in a Jupyter kernel."""
    try:
        if sys.stderr is not None and sys.stderr.isatty():
            return True
    except (AttributeError, ValueError):  # replaced or closed stderr
        pass
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return type(shell).__name__ == "ZMQInteractiveShell"


class Client:
    """Return a client for the Datafiniti v4 API (``token`` defaults to ``$DATAFINITI_API_TOKEN``).

    ``base_url`` defaults to ``$DATAFINITI_API_URL`` or the real API; plain ``http`` is accepted
    only for a loopback host (a local fake server). ``timeout`` is ``(connect, read)`` seconds
    for every request; ``max_retries`` counts retries after the first attempt;
    ``max_body_bytes`` caps an answer's size (default 2 GiB, enough for a large account's
    ``GET /downloads``). A ``session``
    you pass is used for API calls (dfkit mounts its retrying adapters on it for the API's URLs
    and does not close it); result files always go through :attr:`files_session`.

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
        max_retries: int = 5,
        session: requests.Session | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if base_url is None:
            base_url = os.environ.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL
        self.base_url = _check_base_url(base_url)
        self._origin = _origin(self.base_url)
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
        self.timeout = timeout
        self.max_retries = max_retries
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int):
            raise ValueError(f"max_body_bytes must be a positive integer, got {max_body_bytes!r}")
        if max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be a positive integer, got {max_body_bytes!r}")
        #: Answers larger than this are refused without being read whole.
        self.max_body_bytes = max_body_bytes
        self._token: _Secret | None = None
        self._credentials: tuple[str, _Secret] | None = None
        if token is None:
            token = os.environ.get(TOKEN_ENV)
        self._set_token(token)

        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()
        if self._owns_session:
            self.session.headers["User-Agent"] = _USER_AGENT
        get_adapter = HTTPAdapter(max_retries=_retry(max_retries, post=False))
        post_adapter = HTTPAdapter(max_retries=_retry(max_retries, post=True))
        # requests picks the adapter with the longest matching URL prefix: the POSTs that may
        # start a paid download get the cautious policy, everything else under the API the
        # full one. Other origins (redirect targets) keep the session's own adapters.
        self.session.mount(self.base_url + "/", get_adapter)
        self.session.mount(self.base_url + "/auth", post_adapter)
        for plural in sorted(set(_DATA_TYPES.values())):
            self.session.mount(f"{self.base_url}/{plural}/search", post_adapter)
        self._auth = _BearerAuth(self)

        #: The session for result-file links: same retry policy as API GETs, no auth, no cookies.
        self.files_session: requests.Session = ResultFilesSession()
        files_adapter = HTTPAdapter(max_retries=_retry(max_retries, post=False), pool_maxsize=16)
        self.files_session.mount("https://", files_adapter)
        self.files_session.mount("http://", files_adapter)
        _install_log_redaction()  # loggers created since import (urllib3.contrib, ...)

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
        client = cls(token="", **kwargs)
        client._credentials = (email, _Secret(password))
        _register_secret(password)
        try:
            client._authenticate()
        except BaseException:
            client.close()
            raise
        return client

    def _set_token(self, token: str | None) -> None:
        if self._token is not None:
            _unregister_secret(self._token.value)
            self._token = None
        token = (token or "").strip()
        if not token:
            return
        if not all(33 <= ord(ch) <= 126 for ch in token):
            # Never echo it: requests' own error would print the whole header.
            raise ValueError("the API token contains spaces or control characters")
        self._token = _Secret(token)
        _register_secret(token)

    def _authenticate(self) -> None:
        assert self._credentials is not None
        email, password = self._credentials
        body = {"email": email, "password": password.value}
        data = self._request("POST", "/auth", json=body, authenticating=True)
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
        path = f"/downloads/{quote(str(download_id), safe='')}"
        return self._object("GET", path)

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
        matching record. The POST is never resent after the server may have received it.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti() as fake:
        ...     d = Client(fake.token, base_url=fake.url).start_download(
        ...         "business", "city:Austin", num_records=5, format="csv")
        ...     d["status"], d["data_type"], d["format"], d["results"]
        ('queued', 'business', 'CSV', [])
        """
        plural = _DATA_TYPES.get(str(data_type).strip().lower())
        if plural is None:
            known = ", ".join(sorted(_DATA_TYPES))
            raise ValueError(f"data_type must be one of {known}; got {data_type!r}")
        if not isinstance(query, str) or not query.strip():
            raise ValueError("query must be a non-empty string")
        if isinstance(num_records, bool) or not isinstance(num_records, int) or num_records <= 0:
            raise ValueError(
                f"num_records must be a positive integer, got {num_records!r} "
                "(the API would otherwise sell every matching record)"
            )
        fmt = str(format).strip().upper()
        if fmt not in _FORMATS:
            raise ValueError(f"format must be 'JSON' or 'CSV', got {format!r}")
        body: dict[str, Any] = {
            "query": query,
            "format": fmt,
            "num_records": num_records,
            "download": True,
        }
        if view is not None:
            body["view"] = view
        return self._object("POST", f"/{plural}/search", json=body)

    def wait(
        self,
        download_id: str | int,
        *,
        timeout: float | None = None,
        poll_interval: float = 5.0,
        progress: bool | None = None,
    ) -> dict[str, Any]:
        """Return the download object once its status is ``completed``, polling every few seconds.

        Raises :class:`~dfkit.errors.DownloadCancelled` if it is cancelled and
        :class:`~dfkit.errors.WaitTimeout` (``.last`` = the last object seen) after ``timeout``
        seconds. ``progress`` shows a bar of ``num_downloaded / num_records``; by default only
        when stderr is a terminal or the code runs in a notebook.

        >>> from dfkit.testing import FakeDatafiniti
        >>> with FakeDatafiniti() as fake, Client(fake.token, base_url=fake.url) as client:
        ...     d = client.start_download("people", "country:US", num_records=3)
        ...     done = client.wait(d["id"], poll_interval=0, progress=False)
        ...     done["num_downloaded"], len(done["results"])
        (3, 1)
        """
        if poll_interval < 0:
            raise ValueError(f"poll_interval must be >= 0, got {poll_interval!r}")
        show = _interactive() if progress is None else bool(progress)
        deadline = None if timeout is None else _monotonic() + timeout
        bar = _progress_bar(download_id, show)
        try:
            while True:
                current = self.download(download_id)
                status = str(current.get("status", "")).lower()
                _update_bar(bar, current)
                if status == "completed":
                    return current
                if status == "cancelled":
                    raise DownloadCancelled(f"download {download_id} was cancelled", current)
                pause = poll_interval
                if deadline is not None:
                    left = deadline - _monotonic()
                    if left <= 0:
                        raise WaitTimeout(
                            f"download {download_id} still {status or 'unknown'} after "
                            f"{timeout:g} s",
                            current,
                        )
                    pause = min(pause, left)
                _sleep(pause)
        finally:
            if bar is not None:
                bar.close()

    def open_result(
        self,
        url: str,
        *,
        stream: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Return the response for a result-file link, fetched without any credentials.

        Uses :attr:`files_session` with the client's timeout and GET retry policy. The status
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
            raise ValueError(f"result links must be http(s) URLs, got scheme {scheme!r}")
        try:
            return self.files_session.get(
                url, stream=stream, timeout=self.timeout, headers=dict(headers or {})
            )
        except requests.RequestException as exc:
            raise _network_error(exc, f"GET {redact(url)}") from None

    def close(self) -> None:
        """Close the sessions this client opened (not a ``session`` passed in)."""
        if self._owns_session:
            self.session.close()
        self.files_session.close()
        if self._token is not None:
            _unregister_secret(self._token.value)
            self._token = None
        if self._credentials is not None:
            _unregister_secret(self._credentials[1].value)
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

    def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data = self._request(method, path, **kwargs)
        if not isinstance(data, dict):
            raise ResponseError(f"{method} {path}: expected a JSON object, got {_json_type(data)}")
        return data

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        authenticating: bool = False,
        raw: bool = False,
    ) -> Any:
        """Send one API call (re-logging in once after a 401) and return its parsed JSON body.

        ``raw``: return the checked body as bytes instead of parsing it.
        """
        where = f"{method} {path}"
        if self._token is None and not authenticating:
            raise AuthenticationError(
                "No Datafiniti API token: pass Client(token=...), set the "
                f"{TOKEN_ENV} environment variable, or use Client.login(email, password)"
            )
        relogged = False
        while True:
            response = self._send(method, self.base_url + path, json, where)
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
                    self._authenticate()
                    continue
                return self._parse(response, where, raw=raw)

    def _send(self, method: str, url: str, json: Any, where: str) -> requests.Response:
        try:
            return self.session.request(
                method,
                url,
                json=json,
                auth=self._auth,
                timeout=self.timeout,
                stream=True,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise _network_error(exc, where) from None

    def _parse(self, response: requests.Response, where: str, *, raw: bool = False) -> Any:
        if not response.ok:
            try:
                body = self._read(response, where, limit=64 * 1024, strict=False)
            except (ResponseError, NetworkError):
                body = b""
            raise _api_error(response, body, where)
        body = self._read(response, where)
        if not body.strip():
            raise ResponseError(f"{where}: empty answer (status {response.status_code})")
        markup = _looks_like_markup(body)
        if markup:
            raise ResponseError(
                f"{where}: expected JSON, got {markup} "
                f"({response.headers.get('Content-Type', 'no content type')}): "
                f"{redact(_snippet(body, 120))}"
            )
        if raw:
            return body
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ResponseError(
                f"{where}: the answer is not valid JSON ({exc}); "
                f"{len(body)} bytes starting {redact(_snippet(body, 80))!r}"
            ) from None

    def _read(
        self,
        response: requests.Response,
        where: str,
        *,
        limit: int | None = None,
        strict: bool = True,
    ) -> bytes:
        """Return the body, refusing one over ``limit`` bytes without reading it whole.

        With ``strict=False`` (error answers) an oversized body is cut at ``limit`` instead.
        """
        limit = self.max_body_bytes if limit is None else limit
        length = response.headers.get("Content-Length", "")
        if strict and length.isdigit() and int(length) > limit:
            raise ResponseError(
                f"{where}: the answer is {int(length):,} bytes, over the {limit:,}-byte limit"
            )
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in _iter_content(response):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    if not strict:
                        break
                    raise ResponseError(
                        f"{where}: the answer is over the {limit:,}-byte limit; stopped reading"
                    )
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            raise ResponseError(
                f"{where}: the answer was cut off after {size:,} bytes"
                + (f" of {int(length):,}" if length.isdigit() else "")
            ) from None
        except requests.RequestException as exc:
            raise _network_error(exc, where) from None
        body = b"".join(chunks)
        return body[:limit] if not strict else body


def _iter_content(response: requests.Response) -> Iterator[bytes]:
    return response.iter_content(chunk_size=64 * 1024)


def _check_base_url(base_url: str) -> str:
    base_url = base_url.strip().rstrip("/")
    parts = urlsplit(base_url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"base_url must be an http(s) URL, got {redact(base_url)!r}")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ValueError("base_url must not contain credentials, a query string or a fragment")
    if scheme == "http" and not _is_loopback(host):
        raise ValueError(
            f"refusing plain http to {host}: the token would travel unencrypted "
            "(http is allowed only for loopback hosts such as a local fake server)"
        )
    return base_url


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _progress_bar(download_id: str | int, show: bool) -> Any:
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=None, desc=f"download {download_id}", unit="rec", leave=True)


def _update_bar(bar: Any, current: Mapping[str, Any]) -> None:
    if bar is None:
        return
    total, done = current.get("num_records"), current.get("num_downloaded")
    if isinstance(total, int) and not isinstance(total, bool) and total > 0 and bar.total != total:
        bar.total = total
    if isinstance(done, int) and not isinstance(done, bool) and done >= 0:
        bar.n = done
    bar.set_postfix_str(str(current.get("status", "")), refresh=False)
    bar.refresh()

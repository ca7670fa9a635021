"""The network layer under ``Client`` and the result-file fetcher: one retry policy, two sessions.

* :func:`retry_policy` builds the **one** retry policy, for API calls and result files alike:
  urllib3's :class:`~urllib3.util.retry.Retry` on a ``requests`` ``HTTPAdapter`` (never a
  hand-written loop), with jittered exponential backoff and

  - on ``GET``: connection errors, read timeouts, 429, 500, 502, 503 and 504, at most
    ``max_retries`` times after the first attempt;
  - on the ``POST``\\ s (``/auth`` and the search that may start a paid download): only
    connection errors (the request never reached the server) and 429/503, never a read error or
    a 500/502/504, after which the server may already have started the download;
  - a connection the host refuses (or a host name that does not resolve) retried at most twice,
    so it fails within about two seconds instead of the whole backoff;
  - ``Retry-After`` (seconds or an HTTP date) honoured up to :data:`RETRY_AFTER_CAP`; a value
    that cannot be parsed falls back to the backoff;
  - no sleep running past the call's deadline, and every retry logged at INFO on
    ``dfkit.transport`` (``retrying GET /downloads (2/5): connection refused``).

* :func:`send` makes one API call: it follows redirects itself (the token only to the API's own
  origin, never ``~/.netrc``; ``POST /auth`` never redirected; another ``POST`` only to the same
  origin with a 307/308; https or loopback only), under an overall deadline: no retry waits
  past it, and a watchdog shuts the socket of an answer still arriving at it (per-read timeouts
  alone never stop a server that trickles its headers a byte at a time).
  :func:`read_body` reads the answer under the same deadline and a size cap, and
  :func:`api_error` / :func:`network_error` turn what went wrong into dfkit's typed errors
  (:func:`failure_kind` names a failed request in dfkit's words). :func:`watched_call` is that
  deadline and watchdog for any block of requests (a result file's download too).
* :func:`result_files_session` builds the session for pre-signed result-file links (no auth,
  no cookies, ``Accept-Encoding: identity``, every redirect hop checked before it is sent).
* :func:`is_loopback`, :func:`link_problem`, :func:`origin` and :func:`check_base_url` are the
  origin rules, stated once.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.cookiejar import DefaultCookiePolicy
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    InvalidHeader,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from dfkit._version import __version__
from dfkit.errors import (
    APIError,
    ArgumentError,
    AuthenticationError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseError,
    ServerError,
)
from dfkit.redaction import Secret, printable, redact, redact_value, shown_url

__all__ = [
    "POST_RETRY_STATUSES",
    "REFUSED_RETRIES",
    "RETRY_AFTER_CAP",
    "RETRY_STATUSES",
    "USER_AGENT",
    "BearerAuth",
    "NoAuth",
    "ResultFilesSession",
    "api_error",
    "check_base_url",
    "checked_json",
    "error_for",
    "failure_kind",
    "is_loopback",
    "link_problem",
    "monotonic",
    "mount_retries",
    "network_error",
    "origin",
    "parse_json",
    "read_body",
    "result_files_session",
    "retry_policy",
    "send",
    "sleep",
    "watched_call",
]

#: The longest ``Retry-After`` dfkit waits for, in seconds.
RETRY_AFTER_CAP = 60.0
#: Statuses retried on GET, and on the POSTs that may start a paid download.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
POST_RETRY_STATUSES = frozenset({429, 503})
#: Retries of a connection the host refused (or whose name did not resolve).
REFUSED_RETRIES = 2
#: Redirects followed for one call.
MAX_REDIRECTS = 5
USER_AGENT = f"dfkit/{__version__}"

#: The clock of retries, deadlines and ``Client.wait``; tests replace these two.
sleep = time.sleep
monotonic = time.monotonic

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# The one retry policy


@dataclass
class _Call:
    """What the call in progress on this thread is (for retry messages) and when it must end.

    ``deadline`` bounds everything; ``retry_deadline`` only the waits before retries (a caller
    such as ``Client.wait`` whose own deadline allows one more look but no more waiting).
    """

    where: str | None
    deadline: float | None
    retry_deadline: float | None = None
    #: Connections waiting for an answer; the watchdog shuts them down at the deadline.
    waiting: set[Any] = field(default_factory=set)
    expired: threading.Event = field(default_factory=threading.Event)

    def wait_limit(self) -> float | None:
        limits = [t for t in (self.deadline, self.retry_deadline) if t is not None]
        return min(limits) if limits else None

    def expire(self) -> None:
        """End the call now: shut every connection it waits on (the watchdog, at the deadline)."""
        self.expired.set()
        for conn in list(self.waiting):
            _shut(conn)

    def watch(self, response: requests.Response) -> None:
        """Let the watchdog also shut the socket ``response``'s body is being read from."""
        raw = response.raw
        conn = getattr(raw, "connection", None) or getattr(raw, "_connection", None)
        if conn is None:
            return
        self.waiting.add(conn)
        if self.expired.is_set():
            _shut(conn)


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("dfkit_call", default=None)


class _DeadlinePassed(Exception):
    """Raised out of urllib3 when a retry's wait would pass the call's deadline."""


class _Retry(Retry):
    """urllib3's ``Retry`` with the cap, the refused-connection budget, deadlines and messages."""

    # 413 with Retry-After is not a reason to resend a request to this API.
    RETRY_AFTER_STATUS_CODES = frozenset({429, 503})

    def __init__(self, *args: Any, limit: int = 0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit = limit  # the retries allowed in all, for "(2/5)"

    def new(self, **kw: Any) -> _Retry:
        new = super().new(**kw)
        new.limit = self.limit
        return new

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:  # not seconds, not an HTTP date: use the backoff instead
            return None
        return None if seconds is None else min(seconds, RETRY_AFTER_CAP)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        call = _CALL.get()
        if call is not None and call.expired.is_set():  # the watchdog cut the wait short
            raise _DeadlinePassed("the deadline passed while waiting for the answer")
        if isinstance(error, NewConnectionError):
            refused = sum(isinstance(h.error, NewConnectionError) for h in self.history)
            if refused >= REFUSED_RETRIES:
                raise MaxRetryError(_pool, url or "", error) from error
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        where = call.where if call and call.where else _where(method, url, _pool)
        logger.info(
            "retrying %s (%d/%d): %s", where, len(new.history), self.limit, _reason(response, error)
        )
        return new

    def sleep_for_retry(self, response: BaseHTTPResponse) -> bool:
        seconds = self.get_retry_after(response)
        if seconds:
            _pause(seconds, "Retry-After")
            return True
        return False

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        if self.respect_retry_after_header and response and self.sleep_for_retry(response):
            return
        backoff = self.get_backoff_time()
        if backoff > 0:
            _pause(backoff, "backoff")


def _pause(seconds: float, why: str) -> None:
    """Sleep before a retry, but never past the call's deadline."""
    call = _CALL.get()
    limit = call.wait_limit() if call is not None else None
    if limit is not None:
        left = limit - monotonic()
        if seconds > left:
            if left > 0:
                sleep(left)
            raise _DeadlinePassed(f"the next try was {seconds:.0f} s away ({why})")
    sleep(seconds)


def _where(method: str | None, url: str | None, pool: Any) -> str:
    host = getattr(pool, "host", None)
    scheme = getattr(pool, "scheme", "https")
    port = getattr(pool, "port", None)
    target = url or ""
    if host and target.startswith("/"):
        target = f"{scheme}://{host}" + (f":{port}" if port else "") + target
    return f"{method or 'GET'} {shown_url(target) if '://' in target else redact(target)}"


def _reason(response: BaseHTTPResponse | None, error: Exception | None) -> str:
    if response is not None:
        text = f"{response.status} {response.reason or ''}".strip()
        after = response.headers.get("Retry-After")
        return text + (f", Retry-After {printable(after[:40])}" if after else "")
    if isinstance(error, NameResolutionError):
        return "host name not found"
    if isinstance(error, NewConnectionError):
        cause = error.__cause__ or error.__context__
        return (
            "connection refused" if isinstance(cause, ConnectionRefusedError) else "no connection"
        )
    if isinstance(error, ConnectTimeoutError):
        return "connection timed out"
    if isinstance(error, ReadTimeoutError):
        return "no answer within the read timeout"
    if isinstance(error, ProtocolError):
        return "connection broken"
    return type(error).__name__ if error is not None else "unknown"


class _Watched:
    """Mixin: a connection that lets the call's watchdog cut a wait for the answer short.

    Per-read timeouts do not bound a server that sends its status line and headers a byte at a
    time; shutting the socket down at the deadline does.
    """

    sock: Any

    def getresponse(self) -> Any:
        call = _CALL.get()
        if call is None or call.deadline is None:
            return super().getresponse()  # type: ignore[misc]
        call.waiting.add(self)
        try:
            if call.expired.is_set():
                _shut(self)
            return super().getresponse()  # type: ignore[misc]
        finally:
            call.waiting.discard(self)


def _shut(conn: Any) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _Adapter(HTTPAdapter):
    """``HTTPAdapter`` whose connections the call's deadline watchdog can cut short."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _WatchedHTTPPool,
            "https": _WatchedHTTPSPool,
        }


def retry_policy(max_retries: int, *, post: bool = False) -> Retry:
    """Return the retry policy for ``GET`` (or, with ``post=True``, a POST that may spend credits).

    >>> r = retry_policy(5)
    >>> r.total, sorted(r.status_forcelist), retry_policy(5, post=True).read
    (5, [429, 500, 502, 503, 504], False)
    """
    return _Retry(
        total=max_retries,
        connect=max_retries,
        # After a POST was sent the server may have started a paid download: never resend it.
        read=False if post else max_retries,
        status=max_retries,
        other=0,  # TLS and other errors do not heal by retrying
        redirect=0,  # redirects are dfkit's to follow (or refuse), never urllib3's
        raise_on_redirect=False,
        allowed_methods=frozenset({"POST"}) if post else frozenset({"GET", "HEAD"}),
        status_forcelist=POST_RETRY_STATUSES if post else RETRY_STATUSES,
        backoff_factor=0.5,
        backoff_jitter=0.5,
        backoff_max=30.0,
        raise_on_status=False,  # hand back the last answer: dfkit turns it into a typed error
        respect_retry_after_header=True,
        limit=max_retries,
    )


def mount_retries(
    session: requests.Session,
    prefix: str,
    max_retries: int,
    *,
    post_paths: Iterable[str] = (),
    pool_maxsize: int = 10,
) -> None:
    """Mount the retry policy on ``session`` for URLs under ``prefix`` (POST policy on some).

    requests picks the adapter with the longest matching URL prefix: the ``post_paths`` (under
    ``prefix``) get the cautious POST policy, everything else under ``prefix`` the full one.
    """
    adapter = _Adapter(max_retries=retry_policy(max_retries), pool_maxsize=pool_maxsize)
    session.mount(prefix, adapter)
    post_adapter = _Adapter(max_retries=retry_policy(max_retries, post=True))
    for path in post_paths:
        session.mount(prefix + path.lstrip("/"), post_adapter)


# --------------------------------------------------------------------------------------------
# Origins


def origin(url: str) -> tuple[str, str, int | None]:
    """Return ``(scheme, host, port)`` of ``url``, lower-cased, with the scheme's default port.

    >>> origin("HTTPS://API.datafiniti.co/v4")
    ('https', 'api.datafiniti.co', 443)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def is_loopback(host: str | None) -> bool:
    """Return whether ``host`` is ``localhost`` or a loopback address (plain http is fine there).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("example.com")
    (True, True, False)
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def link_problem(url: str) -> str | None:
    """Return why dfkit refuses to fetch ``url`` (https only; http on loopback), or None.

    >>> link_problem("https://x.s3.amazonaws.com/1_0.csv?sig=1") is None
    True
    >>> link_problem("http://x.example/1_0.csv?sig=1")  # doctest: +ELLIPSIS
    'refusing http://x.example/1_0.csv?<redacted>: only https links are fetched (http on ...)'
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if parts.hostname and (scheme == "https" or (scheme == "http" and is_loopback(parts.hostname))):
        return None
    return f"refusing {shown_url(url)}: only https links are fetched (http on loopback only)"


def check_base_url(base_url: str) -> str:
    """Return the API base URL without a trailing slash, or raise ValueError if it is unsafe.

    >>> check_base_url("https://api.datafiniti.co/v4/")
    'https://api.datafiniti.co/v4'
    """
    base_url = base_url.strip().rstrip("/")
    parts = urlsplit(base_url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host:
        raise ArgumentError(f"base_url must be an http(s) URL, got {redact(base_url)!r}")
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment:
        raise ArgumentError("base_url must not contain credentials, a query string or a fragment")
    if scheme == "http" and not is_loopback(host):
        raise ArgumentError(
            f"refusing plain http to {host}: the token would travel unencrypted "
            "(http is allowed only for loopback hosts such as a local fake server)"
        )
    return base_url


# --------------------------------------------------------------------------------------------
# Auth handlers and the result-files session


class BearerAuth(AuthBase):
    """Adds ``Authorization: Bearer <token>`` to a request for ``api_origin`` only."""

    def __init__(self, token: Secret, api_origin: tuple[str, str, int | None]) -> None:
        self._token = token
        self._origin = api_origin

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(r.url or "") == self._origin:
            r.headers["Authorization"] = f"Bearer {self._token.value}"
        else:
            r.headers.pop("Authorization", None)
        return r

    def __repr__(self) -> str:
        return "<dfkit bearer auth>"


class NoAuth(AuthBase):
    """Removes any ``Authorization`` header (and so keeps ``~/.netrc`` credentials away)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers.pop("Authorization", None)
        return r


class ResultFilesSession(requests.Session):
    """A ``requests.Session`` for pre-signed result-file links: no auth and no cookies, ever.

    Pre-signed S3 links carry their signature in the query string; sending the API token there
    would leak it (and S3 rejects two auth mechanisms). This session removes any
    ``Authorization`` header, also after redirects (where ``requests`` would otherwise apply
    ``~/.netrc``), refuses to store cookies, asks for the stored bytes (``Accept-Encoding:
    identity``, so ``Content-Length`` is the length of what is read), and applies the link
    rules (:func:`link_problem`) to the first URL and to every redirect hop *before* it is
    requested, raising :class:`~dfkit.APIError`. Proxy settings from the environment apply.

    >>> s = ResultFilesSession()
    >>> s.prepare_request(requests.Request("GET", "https://x/1.csv?sig=1",
    ...     headers={"Authorization": "Bearer t"})).headers.get("Authorization") is None
    True
    >>> s.close()
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = NoAuth()
        self.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        self.headers["User-Agent"] = USER_AGENT
        self.headers["Accept-Encoding"] = "identity"
        self.max_redirects = MAX_REDIRECTS

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        problem = link_problem(request.url or "")
        if problem:
            raise APIError(problem, url=shown_url(request.url or ""))
        return super().send(request, **kwargs)

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        absolute = urljoin(resp.url, target)
        problem = link_problem(absolute)
        if problem:
            resp.close()
            raise APIError(
                f"{problem} (a {resp.status_code} redirect from {shown_url(resp.url)})",
                status=resp.status_code,
                url=shown_url(resp.url),
            )
        return target

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: Any) -> None:
        prepared_request.headers.pop("Authorization", None)


def result_files_session(max_retries: int = 5, *, pool_maxsize: int = 10) -> ResultFilesSession:
    """Return a session for result-file links, with the one retry policy (that of API GETs).

    >>> with result_files_session(3) as s:
    ...     s.get_adapter("https://x.s3.amazonaws.com/1_0.csv").max_retries.total
    3
    """
    session = ResultFilesSession()
    adapter = _Adapter(max_retries=retry_policy(max_retries), pool_maxsize=pool_maxsize)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


# --------------------------------------------------------------------------------------------
# One API call

Follow = Literal["get", "post", "never"]


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    where: str,
    token: Secret | None,
    body: Secret | None = None,
    timeout: float | tuple[float, float],
    deadline: float | None,
    retry_deadline: float | None = None,
    follow: Follow = "get",
) -> requests.Response:
    """Return the (streamed) final answer to one API call, following redirects dfkit's way.

    ``token`` goes only to the origin of ``url``; ``body`` (JSON bytes in a :class:`Secret`,
    so traceback locals never show a password) is sent only to that origin. ``follow`` is
    ``"get"`` (any redirect to https or loopback, the token dropped off-origin), ``"post"``
    (307/308 to the same origin only) or ``"never"`` (``POST /auth``). ``deadline`` is a
    :data:`monotonic` time after which no attempt starts and no retry waits;
    ``retry_deadline`` one after which no retry waits (an attempt may still start).
    """
    api_origin = origin(url)
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        same = origin(current) == api_origin
        auth: AuthBase = BearerAuth(token, api_origin) if token is not None and same else NoAuth()
        response = _attempt(
            session, method, current, where=where, auth=auth, body=body, timeout=timeout,
            deadline=deadline, retry_deadline=retry_deadline,
        )  # fmt: skip
        if not response.is_redirect:
            return response
        target = urljoin(current, response.headers["Location"])
        status = response.status_code
        response.close()
        refusal = _redirect_refusal(method, status, current, target, api_origin, follow)
        if refusal:
            raise APIError(
                f"{status} redirect to {shown_url(target)} ({where}): {refusal}",
                status=status,
                url=shown_url(current),
            )
        current = target
    raise APIError(f"more than {MAX_REDIRECTS} redirects ({where})", url=shown_url(url))


def _redirect_refusal(
    method: str,
    status: int,
    current: str,
    target: str,
    api_origin: tuple[str, str, int | None],
    follow: Follow,
) -> str | None:
    if follow == "never":
        return "not followed: dfkit never re-sends credentials to a redirect"
    problem = link_problem(target)
    if problem:
        return "not followed: only https (or loopback) redirects are followed"
    if method != "GET":
        if status not in (307, 308):
            return f"not followed: a {method} is only re-sent on a 307 or 308"
        if origin(target) != api_origin:
            return f"not followed: a {method} body is never sent to another origin"
    return None


def _attempt(
    session: requests.Session,
    method: str,
    url: str,
    *,
    where: str,
    auth: AuthBase,
    body: Secret | None,
    timeout: float | tuple[float, float],
    deadline: float | None,
    retry_deadline: float | None,
) -> requests.Response:
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    with watched_call(where, deadline, retry_deadline=retry_deadline) as call:
        try:
            return session.request(
                method,
                url,
                data=body.value if body is not None else None,
                headers=headers,
                auth=auth,
                timeout=_within(timeout, deadline, where),
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            if call.expired.is_set():
                raise NetworkError(f"no answer before the deadline ({where})") from None
            raise network_error(exc, where) from None


@contextlib.contextmanager
def watched_call(
    where: str,
    deadline: float | None,
    *,
    retry_deadline: float | None = None,
    late: str = "no answer before the deadline",
) -> Iterator[_Call]:
    """Run the block as one call that must end by ``deadline`` (a :data:`monotonic` time).

    No retry waits past the deadline, and a watchdog shuts the socket of an answer still
    arriving at it (headers, and with ``call.watch(response)`` the body too). A failure that
    the deadline caused is raised as ``NetworkError(f"{late} ({where})")``, chained to it.
    """
    call = _Call(where, deadline, retry_deadline)
    scope = _CALL.set(call)
    watchdog = _watchdog(call)
    try:
        yield call
    except _DeadlinePassed as exc:
        raise NetworkError(f"{late} ({where}): {exc}") from exc
    except (requests.RequestException, HTTPError, OSError) as exc:
        if call.expired.is_set():
            raise NetworkError(f"{late} ({where})") from exc
        raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
        _CALL.reset(scope)


def _watchdog(call: _Call) -> threading.Timer | None:
    """Start a timer that cuts the call's waits for an answer at its deadline."""
    if call.deadline is None:
        return None
    timer = threading.Timer(max(0.0, call.deadline - monotonic()), call.expire)
    timer.daemon = True
    timer.start()
    return timer


def _within(
    timeout: float | tuple[float, float], deadline: float | None, where: str
) -> float | tuple[float, float]:
    """The per-request timeout, shortened so the request cannot outlive the deadline."""
    if deadline is None:
        return timeout
    left = deadline - monotonic()
    if left <= 0:
        raise NetworkError(f"no answer before the deadline ({where})")
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    return (min(connect, left), min(read, left))


def read_body(
    response: requests.Response,
    where: str,
    *,
    limit: int,
    strict: bool = True,
    deadline: float | None = None,
) -> bytes:
    """Return the body, refusing one over ``limit`` bytes (or past ``deadline``) unread.

    With ``strict=False`` (error answers) an oversized body is cut at ``limit`` instead, and the
    deadline ends the read with what arrived. Reads return as soon as any bytes arrive, so a
    server trickling a byte at a time cannot stretch one call past its deadline.
    """
    length = response.headers.get("Content-Length", "")
    if strict and length.isdigit() and int(length) > limit:
        raise ResponseError(
            f"{where}: the answer is {int(length):,} bytes, over the {limit:,}-byte limit"
        )
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if deadline is not None and monotonic() > deadline:
                if not strict:
                    break
                raise NetworkError(
                    f"no complete answer before the deadline ({where}): {size:,} bytes arrived"
                )
            chunk = raw.read1(64 * 1024, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if not strict:
                    break
                raise ResponseError(
                    f"{where}: the answer is over the {limit:,}-byte limit; stopped reading"
                )
    except (ProtocolError, DecodeError):
        raise ResponseError(
            f"{where}: the answer was cut off after {size:,} bytes"
            + (f" of {int(length):,}" if length.isdigit() else "")
        ) from None
    except ReadTimeoutError:
        raise NetworkError(f"no answer within the read timeout ({where})") from None
    except OSError as exc:
        raise NetworkError(f"connection failed ({where}): {redact(str(exc))}") from None
    body = b"".join(chunks)
    return body[:limit] if not strict else body


def parse_json(response: requests.Response, body: bytes, where: str) -> Any:
    """Return the parsed JSON of a 2xx answer, or raise ResponseError saying what it is instead."""
    checked_json(response, body, where)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseError(
            f"{where}: the answer is not valid JSON ({exc}); "
            f"{len(body)} bytes starting {_snippet(body, 80)!r}"
        ) from None


def checked_json(response: requests.Response, body: bytes, where: str) -> bytes:
    """Return the body of a 2xx answer unparsed, or raise ResponseError if it is empty or markup."""
    if not body.strip():
        raise ResponseError(f"{where}: empty answer (status {response.status_code})")
    markup = _looks_like_markup(body)
    if markup:
        raise ResponseError(
            f"{where}: expected JSON, got {markup} "
            f"({printable(response.headers.get('Content-Type', 'no content type'))}): "
            f"{_snippet(body, 120)}"
        )
    return body


# --------------------------------------------------------------------------------------------
# Answers to errors


def _snippet(body: bytes | str, limit: int = 200) -> str:
    """The start of a body as one printable line, redacted before it is cut."""
    text = body[: limit * 4].decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = printable(" ".join(redact(text).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _retry_after_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
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


def error_for(
    response: requests.Response,
    where: str,
    *,
    deadline: float | None = None,
    hint_401: str | None = None,
) -> APIError:
    """Return the typed error for a non-2xx answer, reading (at most 64 KB of) its body."""
    try:
        body = read_body(response, where, limit=64 * 1024, strict=False, deadline=deadline)
    except (ResponseError, NetworkError):
        body = b""
    return api_error(response, body, where, hint_401=hint_401)


def api_error(
    response: requests.Response, body: bytes, where: str, *, hint_401: str | None = None
) -> APIError:
    """Return the typed error for a non-2xx answer (redacted and printable, details included).

    ``hint_401`` is added to a 401's message (how to fix the token).
    """
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
        details = redact_value(raw_details) if isinstance(raw_details, list) else None
    if message is None:
        message = _snippet(body) or None
    error = _snippet(error, 200) if error else (printable(response.reason or "") or None)
    message = _snippet(message, 1000) if message else None
    text = f"{status} {error or 'error'}" + (f": {message}" if message else "") + f" ({where})"
    kwargs: dict[str, Any] = {
        "status": status,
        "error": error,
        "api_message": message,
        "details": details,
        "url": shown_url(response.url or ""),
    }
    if status in (401, 403):
        if status == 401 and hint_401:
            text += f"; {hint_401}"
        return AuthenticationError(text, **kwargs)
    if status == 404:
        return NotFoundError(text, **kwargs)
    if status == 429:
        retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
        return RateLimitError(text, retry_after=retry_after, **kwargs)
    if status >= 500:
        return ServerError(text, **kwargs)
    return APIError(text, **kwargs)


def network_error(exc: requests.RequestException, where: str) -> NetworkError:
    """Return the NetworkError for a failed request, naming the failure (never the signature)."""
    return NetworkError(f"{failure_kind(exc)} ({where}): {redact(str(exc))}")


def failure_kind(exc: BaseException) -> str:
    """Return what went wrong with a request, in dfkit's words (no library text, no URL).

    >>> failure_kind(requests.ReadTimeout()), failure_kind(requests.TooManyRedirects())
    ('no answer within the read timeout', 'more than 5 redirects')
    """
    if isinstance(exc, requests.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    # Once retries are spent requests wraps urllib3's MaxRetryError in a plain ConnectionError:
    # name the underlying failure.
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    if isinstance(reason, NewConnectionError):
        return _reason(None, reason)
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError):
        return "connection timed out"
    if isinstance(exc, (requests.ReadTimeout, ReadTimeoutError)) or isinstance(
        reason, ReadTimeoutError
    ):
        return "no answer within the read timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS error"
    if isinstance(exc, (requests.ConnectionError, ProtocolError, ConnectionError)):
        return "connection failed"
    return f"request failed ({type(exc).__name__})"

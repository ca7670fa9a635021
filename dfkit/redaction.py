"""Redaction: what dfkit shows (messages, logs, terminal output) never carries a secret.

* :func:`redact` masks URL query strings (S3 signatures), ``Bearer`` tokens and the secrets of
  live clients (the API token, the login password), also in the forms a server echoes them:
  JSON-escaped (``\\/``, ``\\"``), percent-encoded (either hex case) or whitespace-collapsed.
* :func:`redact_value` does the same inside JSON-like values (``APIError.details``).
* :class:`Secret` holds a secret whose ``repr`` is ``'***'``, so debuggers and traceback locals
  (``capture_locals=True``, pytest's ``--showlocals``) never print it.
* :func:`printable` neutralises control characters (ANSI escapes, carriage returns, bidi
  overrides) in text from the API before it reaches a terminal.
* :func:`install_log_redaction` puts a filter on the urllib3, requests and dfkit loggers that
  rewrites each record's message and traceback text through :func:`redact`.

One channel bypasses logging and cannot be redacted: ``http.client.HTTPConnection.debuglevel``
(set to 1 by many "debug requests" recipes) makes the standard library *print* every request's
headers, ``Authorization: Bearer <token>`` included, straight to stdout. ``dfkit.Client`` warns
when it finds it set; leave it at 0 wherever a token is in use, and use logging instead.

>>> redact("GET https://x.s3.amazonaws.com/1_0.csv?X-Amz-Signature=abc failed")
'GET https://x.s3.amazonaws.com/1_0.csv?<redacted> failed'
>>> printable("status: \\x1b[31mfailed\\x1b[0m")
'status: \\\\x1b[31mfailed\\\\x1b[0m'
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import orjson

__all__ = [
    "Secret",
    "install_log_redaction",
    "is_secret_option",
    "printable",
    "redact",
    "redact_value",
    "register_option_secrets",
    "register_secret",
    "shown_url",
    "unregister_secret",
]


class Secret:
    """Return a holder of a secret (``.value``) that shows as ``'***'`` in ``repr`` and ``str``.

    >>> s = Secret("hunter2")
    >>> s, s.value
    ('***', 'hunter2')
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


_lock = threading.Lock()
_secrets: dict[str, int] = {}  # secret -> number of live holders
_pattern: re.Pattern[str] | None = None  # every form of every secret, longest first
# A query string: "?" followed by something with an "=" (S3 signatures, tokens in URLs).
_QUERY = re.compile(r"\?(?=[^\s'\"<>]*=)[^\s'\"<>)]*")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s'\",}]+")
# Secrets shorter than this are not scrubbed from free text: replacing every "ab" in a log line
# would garble it, and short strings are never written anywhere by dfkit or urllib3 anyway.
_MIN_SECRET = 4
# C0 controls but newline and tab, DEL, C1 controls, and the bidi embedding/override/isolate
# characters that reorder what a terminal shows.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _forms(secret: str) -> set[str]:
    """The ways a server may echo ``secret``: as is, JSON-escaped, percent-encoded, collapsed."""
    forms = {secret}
    escaped = orjson.dumps(secret).decode()[1:-1]
    forms |= {escaped, escaped.replace("/", "\\/")}
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), encoded)}
    return {f for f in forms if len(f) >= _MIN_SECRET}


def _rebuild() -> None:
    global _pattern
    forms = {f for s in _secrets for f in _forms(s)}
    ordered = sorted(forms, key=len, reverse=True)
    # Any run of whitespace matches any other: echoes often collapse or re-wrap it.
    alternatives = [r"\s+".join(map(re.escape, form.split())) for form in ordered]
    _pattern = re.compile("|".join(a for a in alternatives if a)) if alternatives else None


def register_secret(secret: str) -> None:
    """Make :func:`redact` mask ``secret`` (in all its forms) until it is unregistered."""
    if len(secret) >= _MIN_SECRET:
        with _lock:
            _secrets[secret] = _secrets.get(secret, 0) + 1
            _rebuild()


def unregister_secret(secret: str) -> None:
    """Forget one registration of ``secret`` (it stays masked while others hold it)."""
    with _lock:
        left = _secrets.get(secret, 0) - 1
        if left > 0:
            _secrets[secret] = left
        elif _secrets.pop(secret, None) is not None:
            _rebuild()


#: Words that make a storage option's key a secret's (``secret``, ``account_key``,
#: ``sas_token``, ``connection_string``, ``credentials``, ...), matched anywhere in the key.
_SECRET_OPTION = re.compile(
    r"secret|token|password|passwd|key|credential|sas|signature|connection_string", re.I
)
_registered_options: set[str] = set()


def is_secret_option(key: str) -> bool:
    """Return whether a storage option named ``key`` holds a secret (its value is masked).

    >>> is_secret_option("secret"), is_secret_option("connection_string")
    (True, True)
    >>> is_secret_option("client_kwargs.endpoint_url")
    False
    """
    return bool(_SECRET_OPTION.search(key.rsplit(".", 1)[-1]))


def register_option_secrets(options: Any) -> None:
    """Register the secret values of ``storage_options`` (nested too) with :func:`redact`.

    They stay masked for the rest of the process (the options may live in a Dask graph).

    >>> register_option_secrets({"key": "AKIAEXAMPLE", "client_kwargs": {"region_name": "x"}})
    >>> redact("signed with AKIAEXAMPLE")
    'signed with ***'
    """
    if not isinstance(options, dict):
        return
    for key, value in options.items():
        if isinstance(value, dict):
            register_option_secrets(value)
        elif is_secret_option(str(key)) and value is not None:
            text = str(value)
            if text not in _registered_options:
                _registered_options.add(text)
                register_secret(text)


def redact(text: str) -> str:
    """Return ``text`` with URL query strings, bearer tokens and live clients' secrets masked.

    >>> redact("Authorization: Bearer abc.def")
    'Authorization: Bearer ***'
    >>> register_secret("s3cr/t  pw")
    >>> redact('{"echo": "s3cr\\\\/t pw"}'), redact("s3cr%2ft++pw"), redact("s3cr/t\\n pw")
    ('{"echo": "***"}', '***', '***')
    >>> unregister_secret("s3cr/t  pw")
    """
    text = _QUERY.sub("?<redacted>", text)
    text = _BEARER.sub(r"\1 ***", text)
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub("***", text)
    return text


def redact_value(value: Any) -> Any:
    """Return a copy of a JSON-like value with every string (keys too) passed through redact.

    >>> redact_value([{"field": "url", "message": "bad https://h/x?sig=1"}])
    [{'field': 'url', 'message': 'bad https://h/x?<redacted>'}]
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value


def printable(text: str) -> str:
    """Return ``text`` with control characters shown as escapes (``\\x1b``), safe for a terminal.

    Newlines and tabs are kept; ANSI escape sequences, carriage returns, backspaces, C1 controls
    and bidi overrides from an API answer can no longer recolour, rewrite or reorder the output.

    >>> printable("ok\\rFAKE")
    'ok\\\\rFAKE'
    >>> printable("a\\u202eb\\tc")
    'a\\\\u202eb\\tc'
    """

    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        if code == 0x0D:
            return "\\r"
        return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"

    return _CONTROL.sub(escape, text)


def shown_url(url: str) -> str:
    """Return ``url`` as dfkit shows it: no credentials, the query string as ``?<redacted>``.

    >>> shown_url("https://u:p@bucket.s3.amazonaws.com/1_0.csv?X-Amz-Signature=abc")
    'https://bucket.s3.amazonaws.com/1_0.csv?<redacted>'
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}" + ("?<redacted>" if parts.query else "")


class _RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback text through :func:`redact`.

    It is attached to the *loggers* that emit records (``urllib3.connectionpool``, ...), not to
    handlers: a logger's filters run once, when the record is made, so every handler that sees
    it later (the root's, pytest's ``caplog``, a notebook's) gets the scrubbed record. A filter
    on the ``urllib3`` parent logger would not run for records of its children. ``exc_info``
    stays for handlers that want the exception object; formatters print the redacted
    ``exc_text`` instead of formatting the traceback again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler to report
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
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
    "dfkit.client",
    "dfkit.transport",
)


def install_log_redaction() -> None:
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


install_log_redaction()

"""Tests for dfkit.redaction: secrets never reach logs, messages, tracebacks or terminals."""

from __future__ import annotations

import logging
import traceback

import pytest

from dfkit import (
    AuthenticationError,
    Client,
    NetworkError,
    redaction,
)
from dfkit.testing import FakeDatafiniti

pytestmark = pytest.mark.usefixtures("clean_env")

BASE = "https://api.datafiniti.co/v4"
TOKEN = "tok-1234567890abcdef"
DOWNLOAD = {"id": "847070", "status": "completed", "num_records": 10, "results": []}


# ---------------------------------------------------------------------------------------------
# Redaction: caplog at DEBUG for every logger


def test_secrets_never_reach_logs_messages_or_tracebacks(
    caplog: pytest.LogCaptureFixture, sleeps: list[float], free_port: int
) -> None:
    caplog.set_level(logging.DEBUG)  # the root: every logger without its own level
    password = "pa55-w0rd-very-secret"
    with FakeDatafiniti(email="me@x.io", password=password) as fake:
        fake.add_download(
            {
                "id": "5",
                "status": "completed",
                "format": "CSV",
                "data_type": "business",
                "num_records": 3,
                "results": ["x"],
            }
        )
        with Client.login("me@x.io", password, base_url=fake.url) as c:
            token = fake.token
            fake.inject("/downloads", status=503)  # urllib3 logs the retry
            c.downloads()
            fake.expire_token()  # a 401, a re-login, a new token
            c.download(5)
            new_token = fake.token
            url = c.download(5)["results"][0]
            signature = url.split("X-Amz-Signature=")[1]
            fake.inject("/s3/*", status=503)  # urllib3 logs the file URL on retry
            with c.open_result(url) as r:
                assert r.ok
            fake.inject("/downloads", status=401, body=f'{{"message": "bad {new_token}"}}', times=2)
            with pytest.raises(AuthenticationError) as auth_info:
                c.downloads()
            logging.getLogger("dfkit.client").debug("echo %s %s", new_token, url)

        dead = f"http://127.0.0.1:{free_port}/s3/1_0.csv?X-Amz-Signature={signature}"
        with Client(new_token, base_url=fake.url, max_retries=1) as c2:
            with pytest.raises(NetworkError) as net_info:
                c2.open_result(dead)
            logging.getLogger("urllib3.connectionpool").warning("late %s", dead)

    secrets = [password, token, new_token, signature]
    records = caplog.records
    assert any(r.name.startswith("urllib3") for r in records), "urllib3 logged nothing?"
    assert any("?<redacted>" in r.getMessage() for r in records if r.name.startswith("urllib3"))
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, (record.name, text)
    for secret in secrets:
        assert secret not in caplog.text
    for info in (auth_info, net_info):
        shown = "".join(traceback.format_exception(info.value))
        assert all(secret not in shown for secret in secrets), shown
        assert all(secret not in repr(info.value) for secret in secrets)
    assert "?<redacted>" in str(net_info.value)


def test_redact_masks_query_strings_and_bearer_tokens() -> None:
    text = redaction.redact(
        "GET /s3/1_0.csv?X-Amz-Signature=deadbeef HTTP/1.1 and "
        "'https://h/x?a=1&b=2' Authorization: Bearer abc.def-ghi"
    )
    assert "deadbeef" not in text and "a=1" not in text and "abc.def" not in text
    assert text.count("?<redacted>") == 2
    assert redaction.redact("what? nothing here") == "what? nothing here"

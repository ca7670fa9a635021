"""Fixtures of the network tests: a fake API, a client on it, sleeps recorded instead of slept."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dfkit import Client, transport
from dfkit.testing import FakeDatafiniti

DOWNLOAD = {"id": "847070", "status": "completed", "num_records": 10, "results": []}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token or base URL from the environment of whoever runs the tests."""
    monkeypatch.delenv("DATAFINITI_API_TOKEN", raising=False)
    monkeypatch.delenv("DATAFINITI_API_URL", raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Every sleep dfkit asks for (retry backoff, Retry-After, wait polls), without sleeping."""
    slept: list[float] = []
    monkeypatch.setattr(transport, "sleep", slept.append)
    return slept


@pytest.fixture
def fake() -> Iterator[FakeDatafiniti]:
    with FakeDatafiniti(downloads=[dict(DOWNLOAD)]) as server:
        yield server


@pytest.fixture
def client(fake: FakeDatafiniti, sleeps: list[float]) -> Iterator[Client]:
    with Client(fake.token, base_url=fake.url, timeout=(2, 2), max_retries=3) as c:
        yield c


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 256 KiB tmpfs, mounted for the test (skipped where mounting is not permitted)."""
    where = tmp_path / "disk"
    where.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if mount.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


class Clock:
    """A fake of transport's clock: ``sleep`` moves ``now`` on and records the pause."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Patch transport's clock and sleep: waits take no time and are recorded."""
    c = Clock()
    monkeypatch.setattr(transport, "monotonic", c.monotonic)
    monkeypatch.setattr(transport, "sleep", c.sleep)
    return c


class Wiretap:
    """A TCP relay on 127.0.0.1 in front of a local server, keeping every byte clients send.

    Tests read ``sent`` to prove what never reached a host (a token, a password) without
    trusting the client library under test to report its own requests.
    """

    def __init__(self, port: int) -> None:
        self.target = port
        self.sent = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target), timeout=30)
            conn.settimeout(30)
            for src, dst, keep in ((conn, upstream, True), (upstream, conn, False)):
                threading.Thread(target=self._pump, args=(src, dst, keep), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, keep: bool) -> None:
        try:
            while data := src.recv(65536):
                if keep:
                    with self._lock:
                        self.sent += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=5)


@pytest.fixture(scope="session")
def s3_wiretap() -> Iterator[Wiretap]:
    """A real S3 API (moto's server) on 127.0.0.1, reached through a :class:`Wiretap`."""
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    tap = Wiretap(port)
    try:
        yield tap
    finally:
        tap.close()
        server.stop()


@pytest.fixture(scope="session")
def s3(s3_wiretap: Wiretap) -> dict[str, Any]:
    """storage_options for a real S3 API (moto's server) on 127.0.0.1, bucket ``results``."""
    s3fs = pytest.importorskip("s3fs", reason="the dfkit[dask] extra is not installed")
    endpoint = f"http://127.0.0.1:{s3_wiretap.port}"
    options = {
        "key": "testing-key",
        "secret": "testing-secret-value",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "eu-west-1"},
    }
    s3fs.S3FileSystem(**options).mkdir("results")
    return options

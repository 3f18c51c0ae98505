"""Run a command with TEST_DATABASE_URL pointing at a PostgreSQL for the test suite.

`make test` runs `with_test_database.py make test-suite`. TEST_DATABASE_URL already set: used as
it is. Otherwise the PostgreSQL on 127.0.0.1:5432 when it answers; failing that, an embedded one
(core/embedded_pg.py, data in var/pg-test, 127.0.0.1:54330) started for the run and stopped
after it, so `make test` passes on a machine with no database server.

`--print` only prints the URL it would use (no embedded server is started) and exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.embedded_pg import EmbeddedPostgres, port_answers  # noqa: E402

SYSTEM_HOST = "127.0.0.1"
TEST_PORT = 54330


def system_url(port: int) -> str | None:
    """The system PostgreSQL's URL when one answers on SYSTEM_HOST:port."""
    if not port_answers(SYSTEM_HOST, port):
        return None
    return f"postgres://postgres@{SYSTEM_HOST}:{port}/billable"


def main(argv: list[str]) -> int:
    system_port = int(os.environ.get("BILLABLE_SYSTEM_PG_PORT") or 5432)
    env = dict(os.environ)
    url = env.get("TEST_DATABASE_URL") or system_url(system_port)
    if argv[:1] == ["--print"]:
        print(url or "embedded")
        return 0
    pg = None
    if url is None:
        data_dir = Path(env.get("BILLABLE_TEST_PG_DATA") or ROOT / "var" / "pg-test")
        pg = EmbeddedPostgres(data_dir, port=int(env.get("BILLABLE_TEST_PG_PORT") or TEST_PORT))
        print(
            f"==> No PostgreSQL on {SYSTEM_HOST}:{system_port}: starting the embedded one "
            f"on port {pg.port} for the tests",
            flush=True,
        )
        pg.start()
        pg.ensure_database("billable")
        url = pg.url("billable")
    env["TEST_DATABASE_URL"] = url
    print(f"==> Tests use {url}", flush=True)
    try:
        return subprocess.run(argv, env=env).returncode
    except KeyboardInterrupt:
        return 130
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The bench database: dropped, created and migrated at the start of every run."""

from __future__ import annotations

import os
from urllib.parse import urlparse

import psycopg2
from psycopg2 import sql


def parse(url: str) -> dict[str, str]:
    u = urlparse(url)
    if u.scheme not in {"postgres", "postgresql"}:
        raise SystemExit(f"bench needs PostgreSQL (DATABASE_URL={url!r})")
    return {
        "host": u.hostname or "127.0.0.1",
        "port": str(u.port or 5432),
        "user": u.username or "postgres",
        "password": u.password or "",
        "dbname": (u.path or "/").lstrip("/") or "billable_bench",
    }


def reset_database(url: str) -> None:
    """DROP and CREATE the bench database (it only ever holds generated data)."""
    p = parse(url)
    conn = psycopg2.connect(
        host=p["host"],
        port=p["port"],
        user=p["user"],
        password=p["password"] or None,
        dbname="postgres",
    )
    conn.autocommit = True
    with conn.cursor() as cur:
        name = sql.Identifier(p["dbname"])
        cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        cur.execute(sql.SQL("CREATE DATABASE {}").format(name))
    conn.close()


def psql_argv(url: str, *args: str) -> tuple[list[str], dict[str, str]]:
    p = parse(url)
    env = dict(os.environ)
    if p["password"]:
        env["PGPASSWORD"] = p["password"]
    argv = [
        "psql",
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        p["host"],
        "-p",
        p["port"],
        "-U",
        p["user"],
        "-d",
        p["dbname"],
        *args,
    ]
    return argv, env

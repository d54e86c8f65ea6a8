"""Database settings for the demo shop on SQLite, PostgreSQL or MariaDB/MySQL.

The demo runs on SQLite with nothing installed. The test suite runs the same
code on the real PostgreSQL and MariaDB servers; their addresses come from the
environment so a laptop with other ports can still run it (see DEVELOPERS.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BACKENDS = ("sqlite", "postgres", "mysql")


def server_address(backend: str) -> tuple[str, int]:
    if backend == "postgres":
        return os.environ.get("DJPERF_PG_HOST", "127.0.0.1"), int(
            os.environ.get("DJPERF_PG_PORT", "5432")
        )
    if backend == "mysql":
        return os.environ.get("DJPERF_MYSQL_HOST", "127.0.0.1"), int(
            os.environ.get("DJPERF_MYSQL_PORT", "3306")
        )
    raise ValueError(f"{backend} has no server")


def use_pymysql() -> None:
    """Let Django's MySQL backend run on PyMySQL.

    mysqlclient needs the MariaDB client headers to build, which a fresh machine
    does not have; PyMySQL is pure Python. Django checks the driver version, so
    PyMySQL reports the mysqlclient version whose API it implements.
    """
    import pymysql

    pymysql.version_info = (2, 2, 1, "final", 0)
    pymysql.install_as_MySQLdb()


def database(backend: str, name: str, sqlite_dir: Path) -> dict[str, Any]:
    """One entry of settings.DATABASES for `backend`, using database `name`."""
    if backend == "sqlite":
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(sqlite_dir / f"{name}.sqlite3"),
        }
    host, port = server_address(backend)
    if backend == "postgres":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": os.environ.get("DJPERF_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("DJPERF_PG_PASSWORD", ""),
            "HOST": host,
            "PORT": port,
            "TEST": {"NAME": f"test_{name}"},
        }
    if backend == "mysql":
        use_pymysql()
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": name,
            "USER": os.environ.get("DJPERF_MYSQL_USER", "root"),
            "PASSWORD": os.environ.get("DJPERF_MYSQL_PASSWORD", ""),
            "HOST": host,
            "PORT": port,
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {
                "NAME": f"test_{name}",
                "CHARSET": "utf8mb4",
                "COLLATION": "utf8mb4_unicode_ci",
            },
        }
    raise ValueError(f"unknown database backend {backend!r}; choose one of {', '.join(BACKENDS)}")

"""A real PostgreSQL server for the gradebook tests, started once per test session and stopped after it.

It comes from Debian's package (installed with apt-get when missing and allowed, as root), runs from a
data folder in a temporary directory, listens only on a Unix socket in that directory (no TCP port to
collide with), and runs as an unprivileged user, since PostgreSQL refuses to run as root. Where none of
this is possible, the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pytest


class PostgresServer:
    """A running private server: `database(name)` creates an empty database and gives its SQLAlchemy URL."""

    def __init__(self, socket_dir: Path) -> None:
        self.socket_dir = socket_dir

    def database(self, name: str) -> str:
        import psycopg2

        connection = psycopg2.connect(dbname="postgres", user="grader", host=str(self.socket_dir))
        try:
            connection.autocommit = True  # CREATE DATABASE cannot run inside a transaction
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()
        return f"postgresql+psycopg2://grader@/{name}?host={self.socket_dir}"


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps each major version apart), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
                   if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def install_postgres() -> Path | None:
    """Install Debian's postgresql package when missing and allowed (root with apt-get); its bin folder, or None."""
    if postgres_bin() is None and shutil.which("apt-get") and os.geteuid() == 0:
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
            subprocess.run(command, capture_output=True, timeout=900,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    return postgres_bin()


def server_account() -> pwd.struct_passwd | None:
    """Who runs the server: `postgres` (made by the package) or `nobody` when we are root; None means ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root and no unprivileged account (postgres or nobody) to run PostgreSQL as")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for this test session (each xdist worker starts its own)."""
    pytest.importorskip("psycopg2", reason="psycopg2-binary is a dependency; run `make test` to install it")
    binaries = install_postgres()
    if binaries is None:
        pytest.skip("no PostgreSQL here and it could not be installed (needs Debian's apt-get as root); "
                    "install the postgresql package to run the PostgreSQL gradebook tests")
    account = server_account()
    home = Path(tempfile.mkdtemp(prefix="aipmlab-pg-"))  # short: a socket path must stay under 108 bytes
    data = home / "data"
    as_server = {} if account is None else {"user": account.pw_uid, "group": account.pw_gid}
    if account is not None:
        os.chown(home, account.pw_uid, account.pw_gid)
    env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")

    def run(*command: str) -> None:
        done = subprocess.run(command, cwd=home, env=env, capture_output=True, text=True, timeout=120, **as_server)
        assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"

    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", "grader", "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(home / "server.log"), "-w", "-t", "60", "-o",
            f"-k {home} -c listen_addresses='' -c fsync=off -c max_connections=40", "start")
        yield PostgresServer(home)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], cwd=home,
                           env=env, capture_output=True, timeout=60, **as_server)
        shutil.rmtree(home, ignore_errors=True)

"""Private PostgreSQL clusters and RabbitMQ nodes that a test may stop and start at will.

The machine's shared servers (PostgreSQL on 5432, RabbitMQ on 5672) serve other users, so a test
that restarts a server mid-run starts its own: a throw-away PostgreSQL cluster (``initdb`` into a
temporary directory, run as the ``postgres`` OS user when we are root, since PostgreSQL refuses
root) or a throw-away RabbitMQ node (its own node name, ports, data directory, log directory and
Erlang cookie). Everything listens on 127.0.0.1 only, on ports picked free at start.

:func:`find_postgres` and :func:`find_rabbitmq` return None when the machine has no server
binaries (the tests then skip); a server whose binaries are there but which fails to start raises
:class:`ServerFailedError` (the tests then fail under ``SHIPSYNC_REQUIRE_SERVICES=1`` and skip
otherwise). ``stop()`` is safe to call any number of times and always removes the directory.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

__all__ = [
    "PrivatePostgres",
    "PrivateRabbitMQ",
    "ServerFailedError",
    "find_postgres",
    "find_rabbitmq",
    "free_port",
    "poll",
]


class ServerFailedError(RuntimeError):
    """A private server's binaries are installed but it would not start, stop or restart."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Call ``check`` until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _run(
    args: list[str], what: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> str:
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServerFailedError(f"{what}: {type(exc).__name__}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip()[-600:]
        raise ServerFailedError(f"{what} exited {done.returncode}: {tail}")
    return done.stdout


# --- PostgreSQL -------------------------------------------------------------------------------


def find_postgres() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (newest version), or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parent.name.split(".")],
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path is not None:
        candidates.append(str(Path(on_path).resolve().parent))
    for directory in candidates:
        if all((Path(directory) / b).is_file() for b in ("initdb", "pg_ctl", "postgres")):
            return Path(directory)
    return None


class PrivatePostgres:
    """One throw-away PostgreSQL cluster on a free port of 127.0.0.1, trust authentication."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="shipsync-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root: run them as the postgres OS user.
            try:
                user = pwd.getpwnam("postgres")
            except KeyError as exc:
                self._remove()
                raise ServerFailedError("running as root and there is no postgres user") from exc
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.root.chmod(0o700)

    @property
    def dsn(self) -> str:
        """A libpq DSN of the ``shipsync`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/shipsync"

    def _pg(self, *args: str, what: str, timeout: float = 60.0) -> str:
        return _run([*self._as, str(self.bindir / args[0]), *args[1:]], what, timeout)

    def start(self) -> None:
        """initdb, start, create the ``shipsync`` database."""
        self._pg(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--no-sync", what="initdb",
        )  # fmt: skip
        # The test restarts the server, never the OS: fsync only matters for an OS crash.
        self.start_server()
        try:
            with psycopg.connect(
                f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
            ) as conn:
                conn.execute("CREATE DATABASE shipsync")
        except psycopg.Error as exc:
            raise ServerFailedError(f"CREATE DATABASE: {type(exc).__name__}: {exc}") from exc

    def stop_server(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m mode``: every session is cut; the data stays."""
        self._pg(
            "pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
            what="pg_ctl stop",
        )  # fmt: skip

    def start_server(self) -> None:
        """``pg_ctl start``, waiting until the server accepts connections."""
        # The test restarts the server, never the OS: fsync only matters for an OS crash.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off"
        )
        self._pg(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.logfile), "-w",
            "-t", "60", "start", what="pg_ctl start",
        )  # fmt: skip

    def running(self) -> bool:
        """Whether the server runs (its ``postmaster.pid`` exists)."""
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        """Stop the server (immediately) and remove its directory; safe to call again."""
        if self.running():
            try:
                self.stop_server("immediate")
            except ServerFailedError:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    pid = int((self.data / "postmaster.pid").read_text().split()[0])
                    os.kill(pid, signal.SIGKILL)
        self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


# --- RabbitMQ ---------------------------------------------------------------------------------


def find_rabbitmq() -> Path | None:
    """The directory holding the real ``rabbitmq-server`` and ``rabbitmqctl`` scripts, or None.

    Debian's ``/usr/sbin`` scripts are wrappers that switch to the ``rabbitmq`` user (dropping
    our environment) and log to the shared ``/var/log/rabbitmq``; the scripts they call live in
    ``/usr/lib/rabbitmq/bin``.
    """
    candidates = [os.environ.get("SHIPSYNC_RABBITMQ_SBIN", ""), "/usr/lib/rabbitmq/bin"]
    on_path = shutil.which("rabbitmq-server")
    if on_path is not None:
        candidates.append(str(Path(on_path).resolve().parent))
    for directory in filter(None, candidates):
        server = Path(directory) / "rabbitmq-server"
        if not (server.is_file() and (Path(directory) / "rabbitmqctl").is_file()):
            continue
        with contextlib.suppress(OSError, UnicodeDecodeError):
            if "su rabbitmq" in server.read_text():
                continue
            return Path(directory)
    return None


class PrivateRabbitMQ:
    """One throw-away RabbitMQ node on free ports of 127.0.0.1, with its own Erlang cookie."""

    def __init__(self, sbin: Path) -> None:
        self.sbin = sbin
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"shipsync-{secrets.token_hex(4)}@localhost"
        self.root = Path(tempfile.mkdtemp(prefix="shipsync-rmq-"))
        self.root.chmod(0o700)
        self._proc: subprocess.Popen[bytes] | None = None
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            "log.console = false\n"
        )
        (self.root / "enabled_plugins").write_text("[].\n")  # no management, no prometheus
        (self.root / "rabbitmq-env.conf").write_text("")  # not the machine's /etc one
        cookie = self.root / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        self.env = {
            **os.environ,
            "HOME": str(self.root),  # the node and rabbitmqctl read the cookie from here
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.root / "rabbitmq.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    @property
    def url(self) -> str:
        """The AMQP URL of the node (guest may log in from 127.0.0.1)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """Run ``rabbitmqctl -n <node> args``."""
        return _run(
            [str(self.sbin / "rabbitmqctl"), "-n", self.node, *args],
            f"rabbitmqctl {args[0]}",
            timeout,
            self.env,
        )

    def spawn(self) -> None:
        """Start the node in the foreground of a child process (its own session); no wait."""
        with (self.root / "server.out").open("wb") as out:
            self._proc = subprocess.Popen(
                [str(self.sbin / "rabbitmq-server")],
                env=self.env,
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def wait_started(self, timeout: float = 60.0) -> None:
        """Return once the node accepts AMQP connections (it opens its listener last)."""
        proc = self._proc
        if proc is None:
            raise ServerFailedError("the RabbitMQ node was never spawned")
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = (self.root / "server.out").read_text(errors="replace")[-600:]
                raise ServerFailedError(f"the RabbitMQ node exited {proc.returncode}: {out}")
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                return
            if time.monotonic() >= deadline:
                raise ServerFailedError(f"the RabbitMQ node did not boot in {timeout}s")
            time.sleep(0.05)

    def start(self) -> None:
        """Spawn the node and wait until it boots."""
        self.spawn()
        self.wait_started()

    def stop_app(self) -> None:
        """Stop the broker application: listeners close, every connection is cut."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        """Start the broker application again; returns once it runs."""
        self.ctl("start_app")

    def stop(self) -> None:
        """Kill the node (it is thrown away) and remove its directory; safe to call again."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            # Its own session: the script, beam.smp and its port programs, nothing else.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        shutil.rmtree(self.root, ignore_errors=True)

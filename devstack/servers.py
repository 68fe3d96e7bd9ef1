"""Start private `redis-server` and `mariadbd` processes on loopback.

These are the Debian binaries, run as children with every file under one data folder, so a
developer's or CI's own servers are never touched.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Self

LOOPBACK: Final = "127.0.0.1"
DB_NAME: Final = "rushqueue"
DB_USER: Final = "rushqueue"
DB_PASSWORD: Final = "rushqueue"


class ServerError(RuntimeError):
    """A local server could not be started."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((LOOPBACK, port)) == 0


def _require(binary: str) -> str:
    path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        raise ServerError(
            f"{binary} not found; install it with: "
            "sudo apt-get install -y redis-server mariadb-server"
        )
    return path


@dataclass(slots=True)
class _Child:
    name: str
    argv: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def spawn(self) -> None:
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # A session of its own, so a terminal's Ctrl-C reaches the supervisor, which then
                # stops the server in order instead of the server dying mid-write.
                start_new_session=True,
            )
        finally:
            log.close()

    def wait_for(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"{self.name} exited early; see {self.log_path}")
            if ready():
                return
            time.sleep(0.05)
        raise ServerError(
            f"{self.name} did not become ready in {timeout:.0f}s; see {self.log_path}"
        )

    def send(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        self.send(signal.SIGTERM)
        # A frozen (SIGSTOP) server would never act on the SIGTERM: wake it up to hear it.
        self.send(signal.SIGCONT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class RedisServer:
    """A `redis-server` with AOF on, so a restart keeps every acknowledged write (`durable`: on
    disk before the answer; otherwise in the AOF, flushed to disk when the OS chooses)."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        durable: bool = True,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        data_dir.mkdir(parents=True, exist_ok=True)
        self._child = _Child(
            "redis-server",
            [
                _require("redis-server"),
                "--bind",
                LOOPBACK,
                "--port",
                str(self.port),
                "--dir",
                str(data_dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                # Test servers trade crash durability for speed, like the MariaDB ones: a process
                # restart still finds every write in the AOF.
                "always" if durable else "no",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                *extra_args,
            ],
            data_dir / "redis.log",
        )

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self, timeout: float = 20.0) -> Self:
        if _port_open(self.port):
            raise ServerError(f"port {self.port} is taken; is another Redis running there?")
        self._child.spawn()
        self._child.wait_for(lambda: _port_open(self.port), timeout)
        return self

    def stop(self) -> None:
        self._child.stop()

    def kill(self) -> None:
        self._child.kill()

    def pause(self) -> None:
        self._child.send(signal.SIGSTOP)

    def resume(self) -> None:
        self._child.send(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._child.process is not None and self._child.process.poll() is None

    def cli(self, *command: str) -> str:
        """One command through `redis-cli`, its answer as text (the launchers' only client, so
        the dev stack needs no Redis client library of its own)."""
        result = subprocess.run(
            [_require("redis-cli"), "-h", LOOPBACK, "-p", str(self.port), *command],
            capture_output=True,
            check=False,
            timeout=10,
        )
        if result.returncode != 0:
            raise ServerError(f"redis-cli {' '.join(command)}: {result.stderr.decode()}")
        return result.stdout.decode()

    def info_field(self, section: str, name: str) -> str | None:
        """One `name:value` field of `INFO section` (or of `CLUSTER INFO` for "cluster")."""
        text = self.cli("CLUSTER", "INFO") if section == "cluster" else self.cli("INFO", section)
        for line in text.splitlines():
            key, colon, value = line.strip().partition(":")
            if colon and key == name:
                return value
        return None


class RedisClusterServer:
    """A Redis Cluster of `masters` masters with `replicas` replicas each, every node a
    `RedisServer` of its own on a free loopback port, joined by `redis-cli --cluster create`.

    `cluster-node-timeout` is short by default (NODE_TIMEOUT_MS) so that a killed master's replica
    is promoted within about two seconds, which is what the failover tests wait for. A benchmark
    passes a longer one: on a busy machine a starved master can miss a second of pings, and a
    failover nobody asked for would be measured as the rush."""

    NODE_TIMEOUT_MS: Final = 1000

    def __init__(
        self,
        data_dir: Path,
        *,
        masters: int = 3,
        replicas: int = 0,
        durable: bool = True,
        node_timeout_ms: int = NODE_TIMEOUT_MS,
    ) -> None:
        self.data_dir = data_dir
        self.replicas = replicas
        self.nodes = [
            RedisServer(
                data_dir / f"node-{index}",
                durable=durable,
                extra_args=[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    str(data_dir / f"node-{index}" / "nodes.conf"),
                    "--cluster-node-timeout",
                    str(node_timeout_ms),
                    # The bus port is the client port + 10000 unless set, which is past 65535
                    # for half of the ports the kernel hands out.
                    "--cluster-port",
                    str(free_port()),
                    # A replica's first sync starts at once instead of after the default 5 s
                    # wait for other replicas to share the transfer.
                    "--repl-diskless-sync-delay",
                    "0",
                ],
            )
            for index in range(masters * (1 + replicas))
        ]

    @property
    def url(self) -> str:
        """Every node as a seed: a client that starts while one of them is down still starts."""
        seeds = ",".join(f"{LOOPBACK}:{node.port}" for node in self.nodes)
        return f"redis+cluster://{seeds}"

    def start(self, timeout: float = 30.0) -> Self:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout: float) -> None:
        for node in self.nodes:
            node.start()
        # redis-cli makes the first `masters` nodes masters and the rest their replicas, and
        # returns once every node agrees on the slot map.
        result = subprocess.run(
            [
                _require("redis-cli"),
                "--cluster",
                "create",
                *(f"{LOOPBACK}:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],
            capture_output=True,
            check=False,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise ServerError(f"redis-cli --cluster create failed: {result.stdout.decode()}")
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until every running node reports `cluster_state:ok` and every master that has
        replicas has them connected (so a WAIT can be answered and a failover can promote)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._node_ready(node) for node in self.nodes if node.running):
                return
            time.sleep(0.05)
        raise ServerError(f"the cluster under {self.data_dir} did not become ready in {timeout}s")

    def _node_ready(self, node: RedisServer) -> bool:
        try:
            if node.info_field("cluster", "cluster_state") != "ok":
                return False
            if node.info_field("replication", "role") == "slave":
                return node.info_field("replication", "master_link_status") == "up"
            return True
        except ServerError:
            return False

    def master_of(self, slot: int) -> RedisServer:
        """The node now serving `slot`, as the nodes themselves say."""
        for node in self.nodes:
            if node.running and self._serves(node, slot):
                return node
        raise ServerError(f"no running master serves slot {slot}")

    @staticmethod
    def _serves(node: RedisServer, slot: int) -> bool:
        myself = next(
            line for line in node.cli("CLUSTER", "NODES").splitlines() if "myself" in line
        )
        for part in myself.split()[8:]:
            first, dash, last = part.partition("-")
            if first.isdigit() and int(first) <= slot <= int(last if dash else first):
                return True
        return False

    def replicas_of(self, master: RedisServer) -> list[RedisServer]:
        return [
            node
            for node in self.nodes
            if node.running
            and node.info_field("replication", "role") == "slave"
            and node.info_field("replication", "master_port") == str(master.port)
        ]

    def kill(self, node: RedisServer) -> None:
        """`kill -9` of one node; its replica, if it has one, is promoted after the timeout."""
        node.kill()

    def wait_failover(self, slot: int, dead: RedisServer, timeout: float = 15.0) -> float:
        """Until a running node other than `dead` serves `slot` (its replica was promoted);
        the seconds that took."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if self.master_of(slot) is not dead:
                    return time.monotonic() - started
            except ServerError:
                pass  # nobody serves the slot until the replica is promoted
            time.sleep(0.1)
        raise ServerError(f"no node took over slot {slot} within {timeout}s")

    def restart_as_replica(self, node: RedisServer, timeout: float = 30.0) -> None:
        """Start a killed master, whose replica has been promoted, again on its port with its
        `nodes.conf`: it rejoins the cluster as the new master's replica (what replacing a lost
        machine does). Returns once it is one, its link up, and every node is ready. (Until
        the others tell it otherwise it still claims its old slots.)"""
        node.start(timeout)
        deadline = time.monotonic() + timeout
        while not (node.info_field("replication", "role") == "slave" and self._node_ready(node)):
            if time.monotonic() > deadline:
                raise ServerError(f"node {node.port} did not come back as a replica")
            time.sleep(0.05)
        self.wait_ready(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class MariaDBServer:
    """A `mariadbd` with its own data folder, bound to loopback, with one app database and user."""

    def __init__(self, data_dir: Path, port: int | None = None, *, durable: bool = True) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.socket_path = data_dir / "mysqld.sock"
        self._datadir = data_dir / "db"
        argv = [
            _require("mariadbd"),
            "--no-defaults",
            f"--datadir={self._datadir}",
            f"--port={self.port}",
            f"--bind-address={LOOPBACK}",
            f"--socket={self.socket_path}",
            f"--pid-file={data_dir / 'mysqld.pid'}",
            "--skip-name-resolve",
            "--skip-log-bin",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
            "--innodb-buffer-pool-size=128M",
            "--max-connections=500",
            "--transaction-isolation=READ-COMMITTED",
        ]
        if not durable:
            # Test servers trade crash durability of the last second for speed; nothing else.
            argv += ["--innodb-flush-log-at-trx-commit=2", "--innodb-doublewrite=0"]
        if os.geteuid() == 0:
            argv.append("--user=root")
        self._child = _Child("mariadbd", argv, data_dir / "mariadb.log")

    @property
    def url(self) -> str:
        return f"mysql://{DB_USER}:{DB_PASSWORD}@{LOOPBACK}:{self.port}/{DB_NAME}"

    @property
    def _initialised_marker(self) -> Path:
        return self.data_dir / "initialised"

    def _initialise(self) -> None:
        # The marker is written only after mariadb-install-db succeeded, so a data folder left
        # half-made by an interrupted first start is made again rather than trusted.
        if self._initialised_marker.exists():
            return
        shutil.rmtree(self._datadir, ignore_errors=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            _require("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={self._datadir}",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ]
        if os.geteuid() == 0:
            argv.append("--user=root")
        result = subprocess.run(argv, capture_output=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(self._datadir, ignore_errors=True)
            raise ServerError(f"mariadb-install-db failed: {result.stderr.decode()[-2000:]}")
        self._initialised_marker.touch()

    def _client(self, sql: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [
                _require("mariadb"),
                "--no-defaults",
                f"--socket={self.socket_path}",
                "-uroot",
                "-e",
                sql,
            ],
            capture_output=True,
            check=False,
        )

    def start(self, timeout: float = 60.0) -> Self:
        if _port_open(self.port):
            raise ServerError(f"port {self.port} is taken; is another MariaDB running there?")
        self._initialise()
        self._child.spawn()
        self._child.wait_for(
            lambda: _port_open(self.port) and self._client("SELECT 1").returncode == 0, timeout
        )
        created = self._client(
            f"CREATE DATABASE IF NOT EXISTS {DB_NAME} CHARACTER SET utf8mb4;"
            f"CREATE USER IF NOT EXISTS '{DB_USER}'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}';"
            f"GRANT ALL ON {DB_NAME}.* TO '{DB_USER}'@'127.0.0.1';"
            f"GRANT ALL ON `{DB_NAME}\\_%`.* TO '{DB_USER}'@'127.0.0.1';"
        )
        if created.returncode != 0:
            raise ServerError(f"creating the database failed: {created.stderr.decode()}")
        return self

    def create_database(self, name: str) -> str:
        """Create an extra database (tests use one each) and return its URL."""
        result = self._client(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4")
        if result.returncode != 0:
            raise ServerError(result.stderr.decode())
        return f"mysql://{DB_USER}:{DB_PASSWORD}@{LOOPBACK}:{self.port}/{name}"

    def stop(self) -> None:
        self._child.stop(timeout=30.0)

    def kill(self) -> None:
        self._child.kill()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): it still accepts TCP connections (the kernel does that)
        but answers nothing, which is how a hung database looks to its clients."""
        self._child.send(signal.SIGSTOP)

    def resume(self) -> None:
        self._child.send(signal.SIGCONT)

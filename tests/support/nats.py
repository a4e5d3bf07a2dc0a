"""Real `nats-server` processes on 127.0.0.1 for the tests and the benchmarks (Debian's
`nats-server`): one node, or a cluster of three with JetStream, each with its own ports,
store folder and log; optionally with users whose permissions are given."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.server import free_port

BINARY = shutil.which("nats-server") or "/usr/bin/nats-server"


@dataclass(frozen=True)
class User:
    """A user of the engine: the subjects it may publish to and subscribe to."""

    name: str
    password: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def conf(self) -> str:
        return (f"{{user: {json.dumps(self.name)}, password: {json.dumps(self.password)}, "
                f"permissions: {{publish: {{allow: {json.dumps(list(self.publish))}}}, "
                f"subscribe: {{allow: {json.dumps(list(self.subscribe))}}}}}}}")


@dataclass
class NatsNode:
    """One nats-server process (its client port, cluster port, monitoring port)."""

    name: str
    folder: Path
    port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    routes: list[int] = field(default_factory=list)
    users: tuple[User, ...] = ()
    tls: tuple[Path, Path] | None = None  # (certificate, key): clients must use TLS

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, routes: list[int], users: tuple[User, ...] = ()) -> None:
        """Start it (its routes: the other nodes' cluster ports, none for a single node)."""
        self.routes, self.users = routes, users
        store = self.folder / f"store-{self.name}"
        store.mkdir(parents=True, exist_ok=True)
        conf = [f'server_name: "{self.name}"', f'listen: "127.0.0.1:{self.port}"',
                f'http: "127.0.0.1:{self.http_port}"',
                f'jetstream {{store_dir: "{store}", max_memory_store: 268435456, '
                f'max_file_store: 268435456}}']
        if routes:
            listed = ", ".join(f'"nats-route://127.0.0.1:{port}"' for port in routes)
            conf.append(f'cluster {{name: "test", listen: "127.0.0.1:{self.cluster_port}", '
                        f"routes: [{listed}]}}")
        if self.tls is not None:
            cert, key = self.tls
            conf.append(f'tls {{cert_file: "{cert}", key_file: "{key}"}}')
        if users:
            conf.append("authorization {users: [" + ", ".join(u.conf() for u in users)
                        + "]}")
        path = self.folder / f"{self.name}.conf"
        path.write_text("\n".join(conf) + "\n")
        log = (self.folder / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen([BINARY, "-c", str(path)], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()

    def ready(self) -> bool:
        """Whether it answers and its JetStream is up (a cluster: a meta leader chosen)."""
        try:
            return httpx.get(f"http://127.0.0.1:{self.http_port}/healthz",
                             timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    def restart(self) -> None:
        """Start it again, as it was (a memory stream on it is gone)."""
        self.start(self.routes, self.users)

    def clients(self) -> list[str]:
        """The names of the clients connected to it now."""
        try:
            connz = httpx.get(f"http://127.0.0.1:{self.http_port}/connz", timeout=2).json()
        except httpx.HTTPError:
            return []
        return [str(c.get("name", "")) for c in connz.get("connections") or []]

    def stop(self, kill: bool = False) -> None:
        """Stop it (SIGKILL when `kill`: a node that dies)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.process.wait(10)
        self.process = None

    def log(self) -> str:
        return (self.folder / f"{self.name}.log").read_text(errors="replace")


class NatsCluster:
    """`size` nodes (1: a single server; 3: a cluster with replicated JetStream)."""

    def __init__(self, folder: Path, size: int = 1, users: tuple[User, ...] = (),
                 tls: tuple[Path, Path] | None = None) -> None:
        self.nodes = [NatsNode(f"n{i + 1}", folder, tls=tls) for i in range(size)]
        self.users = users

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's address, comma-separated (as a client's server list)."""
        return ",".join(self.urls)

    def start(self, timeout_s: float = 20.0) -> None:
        """Start every node and wait until each is ready."""
        for node in self.nodes:
            routes = ([other.cluster_port for other in self.nodes if other is not node]
                      if len(self.nodes) > 1 else [])
            node.start(routes, self.users)
        self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(node.ready() for node in self.nodes if node.process is not None):
            if time.monotonic() > deadline:
                logs = "\n".join(node.log()[-2000:] for node in self.nodes)
                raise RuntimeError(f"nats-server did not become ready:\n{logs}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> NatsCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), for a server that speaks TLS."""
    cert, key = folder / "nats-cert.pem", folder / "nats-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key

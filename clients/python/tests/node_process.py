"""Real processes for the end-to-end tests and the benchmark: a governor node (``dotnet Scarcity.Actors.Host.dll`` from
its Release build, as tests/Scarcity.Actors.ClusterTests' NodeProcess starts it) with a SQLite database in a temporary
folder and free ports, and the Python sample engine (examples/engine_model.py)."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
HOST_DLL = os.path.join(ROOT, "src", "Scarcity.Actors.Host", "bin", "Release", "net10.0", "Scarcity.Actors.Host.dll")
ENGINE = os.path.join(ROOT, "clients", "python", "examples", "engine_model.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A child process whose output lines are collected (and copied to a log file)."""

    def __init__(self, name: str, args: list[str], cwd: str, log_path: str, env: Optional[dict[str, str]] = None):
        self.name = name
        self.log_path = log_path
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._log = open(log_path, "w", buffering=1)
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, text=True, env=env, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            with self._lock:
                self.lines.append(line)
            self._log.write(line + "\n")

    def tail(self, count: int = 40) -> str:
        with self._lock:
            return f"--- last lines of {self.name} ({self.log_path}) ---\n" + "\n".join(self.lines[-count:])

    def wait_for_line(self, pattern: str, timeout: float, start: int = 0) -> tuple[int, str]:
        """The first line at or after index ``start`` matching ``pattern`` and its index; raises AssertionError with
        the output's tail on timeout or exit."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for i in range(start, len(self.lines)):
                    if regex.search(self.lines[i]):
                        return i, self.lines[i]
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the reader catch the last lines
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}) before /{pattern}/\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: no line /{pattern}/ within {timeout} s\n{self.tail()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL of the process (and its group): a crash, no goodbye on any stream."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._reader.join(5)
        self._log.close()


def node_config(host: str, cluster_port: int, gateway_port: int, metrics_port: int, db: str,
                policy: Optional[dict] = None, sensor_interval: str = "00:00:00.500",
                gateway: Optional[dict] = None) -> dict:
    """The node's configuration: one governor+sensor node on loopback, SQLite, gateway and /metrics on free ports."""
    return {
        "Scarcity": {
            "Host": host,
            "Sensor": {"Interval": sensor_interval},
            "Gpu": {"Enabled": False},
            "Persistence": {"Provider": "Sqlite", "ConnectionString": f"Data Source={db}"},
            "Metrics": {"Port": metrics_port, "Address": "127.0.0.1"},
            "Gateway": {"Enabled": True, "Port": gateway_port, "Address": "127.0.0.1", **(gateway or {})},
            "Cluster": {"Hostname": "127.0.0.1", "Port": cluster_port, "SeedNodes": [f"akka.tcp://scarcity@127.0.0.1:{cluster_port}"], "Roles": ["governor", "sensor"]},
            **({"Policy": policy} if policy else {}),
        },
        "Logging": {"LogLevel": {"Default": "Warning", "Scarcity": "Information"}},
    }


class GovernorNode:
    """One governor node process; ``gateway`` is its gRPC address, ``metrics_url`` its /metrics."""

    def __init__(self, name: str, log_dir: str, host: str = "py-e2e-host", policy: Optional[dict] = None,
                 sensor_interval: str = "00:00:00.500", gateway: Optional[dict] = None):
        if not os.path.isfile(HOST_DLL):
            raise FileNotFoundError(
                f"{HOST_DLL} not built: dotnet build src/Scarcity.Actors.Host -c Release")
        self.dir = tempfile.mkdtemp(prefix=f"scarcity-{name}-")
        self.host = host
        self.gateway_port = free_port()
        self.metrics_port = free_port()
        self.cluster_port = free_port()
        config = node_config(host, self.cluster_port, self.gateway_port, self.metrics_port,
                             os.path.join(self.dir, "scarcity.db"), policy, sensor_interval, gateway)
        path = os.path.join(self.dir, f"{name}.json")
        with open(path, "w") as f:
            json.dump(config, f, indent=2)
        env = {k: v for k, v in os.environ.items() if not k.lower().startswith("scarcity__")}
        env["DOTNET_TieredPGO"] = "0"
        os.makedirs(log_dir, exist_ok=True)
        self.process = Process(name, ["dotnet", HOST_DLL, "--config", path], self.dir,
                               os.path.join(log_dir, f"{name}.log"), env)

    @property
    def gateway(self) -> str:
        return f"127.0.0.1:{self.gateway_port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def wait_ready(self, timeout: float = 120) -> None:
        """Waits until /readyz answers 200 and the gateway port accepts connections."""
        import urllib.request
        deadline = time.monotonic() + timeout
        while True:
            if self.process.proc.poll() is not None:
                raise AssertionError(f"the node exited ({self.process.proc.returncode})\n{self.process.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        with socket.create_connection(("127.0.0.1", self.gateway_port), timeout=2):
                            return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"the node was not ready within {timeout} s\n{self.process.tail()}")
            time.sleep(0.5)

    def metric(self, name: str, labels: str = "") -> float:
        """The sum of a /metrics sample's values over the series whose name is ``name`` and whose labels contain
        ``labels`` (0 when absent)."""
        import urllib.request
        with urllib.request.urlopen(self.metrics_url, timeout=10) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if m and m.group(1) == name and labels in (m.group(2) or ""):
                total += float(m.group(3))
        return total

    def stop(self) -> None:
        self.process.stop()


def start_engine(name: str, log_dir: str, targets: list[str], host: str, scenario: str = "demo",
                 extra: Optional[list[str]] = None, log_name: Optional[str] = None) -> Process:
    """The Python sample engine as a process of its own (Debian's python3, the client from this checkout)."""
    args = [sys.executable, "-u", ENGINE, "--name", name, "--host", host, "--scenario", scenario]
    for t in targets:
        args += ["--target", t]
    log_name = log_name or f"engine-{name}"
    return Process(log_name, args + (extra or []), ROOT, os.path.join(log_dir, f"{log_name}.log"))

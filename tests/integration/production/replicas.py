"""Service replicas as real processes: the same settings, each on its own port.

What ``docker compose up --scale access=3`` does on an operator's machine, here:
several uvicorn processes of one service sharing its database and consumer group.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import httpx
from pydantic import SecretStr

from services.common.settings import Settings
from vndx.embedded import free_port, wait_for
from vndx.embedded.process import ChildProcess, child_environment
from vndx.stack import serving_command

FACTORIES = {
    "access": "services.access.api.app:create_app",
    "orders": "services.orders.api.app:create_app",
}


def settings_environment(settings: Settings) -> dict[str, str]:
    """``VNDX_*`` variables that make a process load exactly ``settings``."""
    env: dict[str, str] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, list | dict | tuple):
            value = json.dumps(value)
        env[f"VNDX_{name.upper()}"] = str(value)
    return env


class Replica:
    """One process of a service; ``kill`` is a crash, ``stop`` a polite shutdown."""

    def __init__(self, service: str, settings: Settings, log_dir: Path, number: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = f"{service}-{number}"
        env = child_environment({"PYTHONUNBUFFERED": "1", **settings_environment(settings)})
        env["VNDX_PORT"] = str(self.port)
        self.process = ChildProcess(
            serving_command(FACTORIES[service], self.port),
            log_dir / f"{self.name}.log",
            env=env,
            cwd=Path.cwd(),
        )

    def start(self) -> Replica:
        self.process.start()
        wait_for(
            lambda: _healthy(self.url),
            60,
            self.name,
            log_file=self.process.log_file,
            alive=self.process.is_alive,
        )
        return self

    def kill(self) -> None:
        if self.process.pid is not None and self.process.is_alive():
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.stop(timeout=5)  # reaps it

    def stop(self) -> None:
        self.process.stop(timeout=10)

    def metric(self, name: str) -> float:
        """The sum of a Prometheus series' samples on this replica (0 if absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

"""The production compose file, .env.example and Dockerfile, loaded for the checks."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PRODUCTION_DOC = ROOT / "docs" / "production.md"

#: The application services (each runs the vndx image) and their ports.
APP_PORTS = {
    "portal": 8100,
    "catalog": 8101,
    "pricing": 8102,
    "orders": 8103,
    "access": 8104,
    "audit": 8105,
}
ONE_SHOTS = {"kafka-init", "minio-init", "init"}
INFRA = {"postgres", "kafka", "kafka-2", "kafka-3", "minio", "prometheus"}
#: What may be published on the host, all documented in docs/production.md.
PUBLISHABLE = {*APP_PORTS, "minio", "prometheus"}

INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(:?[?-])?([^}]*)\}")


@cache
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return document


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def environment(service: str) -> dict[str, str]:
    env = services()[service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def env_example() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Substitute ``${NAME}``, ``${NAME:-default}`` and ``${NAME:?message}`` like compose does."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2) or "", match.group(3)
        given = variables.get(name, "")
        if given:
            return given
        if operator.endswith("?"):
            raise KeyError(f"{name} is required ({rest or 'no message'})")
        return rest if operator.endswith("-") else ""

    return INTERPOLATION.sub(substitute, value)

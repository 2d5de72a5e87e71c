"""Fixtures every test may use: where the repository and the shared data are."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    return Path(os.environ.get("VNDX_SHARED_DIR", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def adult_dir() -> Path:
    path = shared_dir() / "datasets" / "adult"
    if not (path / "adult.csv").exists():
        pytest.fail(f"the Adult census set is missing at {path}; set VNDX_SHARED_DIR")
    return path


@pytest.fixture(scope="session")
def merkle_vectors_dir() -> Path:
    path = shared_dir() / "datasets" / "merkle-vectors"
    if not (path / "inclusion").is_dir():
        pytest.fail(f"the Merkle test vectors are missing at {path}; set VNDX_SHARED_DIR")
    return path

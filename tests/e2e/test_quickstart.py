"""The README's quickstart, as an operator runs it: `vndx up`, a token, a listing, a search."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from vndx.embedded.ports import free_port

BIN = Path(sys.executable).parent


def test_vndx_up_serves_the_catalog_and_stops_cleanly(tmp_path: Path, adult_dir: Path) -> None:
    ports = {
        "VNDX_CATALOG_PORT": free_port(),
        "VNDX_KAFKA_PORT": free_port(),
        "VNDX_S3_PORT": free_port(),
    }
    env = {
        **os.environ,
        **{k: str(v) for k, v in ports.items()},
        "VNDX_DATA_DIR": str(tmp_path / ".vndx"),
    }
    env["VNDX_CATALOG_URL"] = f"http://127.0.0.1:{ports['VNDX_CATALOG_PORT']}"
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [str(BIN / "vndx"), "up", "--data-dir", str(tmp_path / ".vndx")],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = env["VNDX_CATALOG_URL"]
    try:
        deadline = time.monotonic() + 120
        while True:
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the catalog never came up"
            time.sleep(0.5)
        token = subprocess.run(
            [str(BIN / "vndx"), "token", "--org", "so-ke-hoach", "--role", "provider"],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert token.count(".") == 2, "only the token goes to stdout"
        headers = {"Authorization": f"Bearer {token}"}
        body = {
            "title_vi": "Đăng ký đất đai Đà Nẵng",
            "title_en": "Da Nang land register",
            "theme": "land",
            "provinces": ["da-nang"],
            "keywords": ["đất đai", "land"],
            "columns": [
                {"name": "parcel", "type": "string", "classification": "attribute"},
                {"name": "area_m2", "type": "number", "classification": "attribute"},
            ],
        }
        created = httpx.post(f"{base}/v1/listings", json=body, headers=headers, timeout=10)
        assert created.status_code == 201, created.text
        listing_id = created.json()["id"]
        upload = httpx.post(
            f"{base}/v1/listings/{listing_id}/versions",
            content=b"parcel,area_m2\nA-1,120.5\nA-2,98\n",
            headers={**headers, "Content-Type": "text/csv"},
            timeout=30,
        )
        assert upload.status_code == 201, upload.text
        assert (
            httpx.post(
                f"{base}/v1/listings/{listing_id}/publish", headers=headers, timeout=10
            ).status_code
            == 200
        )
        found = httpx.get(f"{base}/v1/listings", params={"q": "dat dai da nang"}, timeout=10).json()
        assert [item["id"] for item in found["items"]] == [listing_id]
        seeded = subprocess.run(
            [str(BIN / "vndx"), "seed", "--demo", "--adult-dir", str(adult_dir)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert seeded.returncode == 0, seeded.stderr
        assert "30,162" in seeded.stdout
        census = httpx.get(
            f"{base}/v1/listings", params={"q": "dieu tra dan so"}, timeout=10
        ).json()
        assert any("Adult" in item["title_en"] for item in census["items"])
        assert httpx.get(f"{base}/v1/listings", timeout=10).json()["total"] == 7
        printed = (tmp_path / "up.log").read_text()
        assert f"{base}/docs" in printed
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
    assert "stopped." in (tmp_path / "up.log").read_text()
    assert (tmp_path / ".vndx" / "catalog.db").exists()
    # The second start keeps the data of the first (SQLite and SeaweedFS volumes persist).
    up = subprocess.Popen(
        [str(BIN / "vndx"), "up", "--data-dir", str(tmp_path / ".vndx")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.5)
        again = httpx.get(f"{base}/v1/listings/{listing_id}", timeout=10).json()
        assert again["row_count"] == 2
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0


def test_vndx_up_names_a_port_another_program_holds_and_exits(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        env = {
            **os.environ,
            "VNDX_PORTAL_PORT": str(taken),
            "VNDX_KAFKA_PORT": str(free_port()),
            "VNDX_S3_PORT": str(free_port()),
        }
        up = subprocess.run(
            [str(BIN / "vndx"), "up", "--data-dir", str(tmp_path / ".vndx")],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
    output = " ".join((up.stdout + up.stderr).split())
    assert up.returncode == 1, output
    assert f"cannot start portal (VNDX_PORTAL_PORT): 127.0.0.1:{taken} is already in use" in output
    assert "Traceback" not in up.stdout + up.stderr
    assert "stopped." in output

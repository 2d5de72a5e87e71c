"""Fill the empty secrets of a compose .env with random values and make the signing keys.

    cp .env.example .env && python3 infra/make_env.py .env

Only empty values are filled, so re-running keeps what is there. Stripe keys and
the OIDC issuer's public key (secrets/jwt-public.pem) cannot be invented: the
script lists what is still missing. Needs only the standard library, plus
`cryptography` for the Ed25519 key pairs (the project's .venv has it).
"""

from __future__ import annotations

import base64
import secrets
import sys
from pathlib import Path

NOT_GENERATED = {"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"}
KEY_PAIRS = ("quote", "ledger")


def random_value(name: str) -> str:
    if name == "KAFKA_CLUSTER_ID":
        return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
    if name.endswith("_ACCESS_KEY") or name == "MINIO_ROOT_USER":
        return "vndx" + secrets.token_hex(8)
    return secrets.token_hex(24)


def fill(env_file: Path) -> list[str]:
    """Fill empty values in place; return the names still empty."""
    lines = env_file.read_text(encoding="utf-8").splitlines()
    missing: list[str] = []
    for index, line in enumerate(lines):
        name, sep, value = line.partition("=")
        if not sep or line.lstrip().startswith("#") or value.strip():
            continue
        if name in NOT_GENERATED:
            missing.append(name)
            continue
        lines[index] = f"{name}={random_value(name)}"
    env_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env_file.chmod(0o600)
    return missing


def make_key_pairs(secrets_dir: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    secrets_dir.mkdir(mode=0o700, exist_ok=True)
    for name in KEY_PAIRS:
        private_path = secrets_dir / f"{name}-private.pem"
        if private_path.exists():
            continue
        key = Ed25519PrivateKey.generate()
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        # Compose bind-mounts file secrets as they are, and the services run as
        # uid 10001: the file is world-readable, the 0700 folder keeps it private.
        private_path.chmod(0o644)
        (secrets_dir / f"{name}-public.pem").write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def main(argv: list[str]) -> int:
    env_file = Path(argv[1] if len(argv) > 1 else ".env")
    missing = fill(env_file)
    secrets_dir = env_file.resolve().parent / "secrets"
    try:
        make_key_pairs(secrets_dir)
    except ImportError:
        missing.append("secrets/*-private.pem (run with the project's .venv/bin/python)")
    if not (secrets_dir / "jwt-public.pem").exists():
        missing.append("secrets/jwt-public.pem (the OIDC issuer's token-signing public key)")
    for item in missing:
        print(f"still to provide: {item}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

"""Launchers for the real parts the embedded stack and the tests run on loopback.

`Tansu` (Kafka protocol), `SeaweedS3` (S3 object store) and `Postgres` each
start a child process on free 127.0.0.1 ports, wait until a real client gets an
answer, write its output to a log file, and stop it (also as context managers);
that lifecycle lives once, in `vndx.embedded.launcher.Launcher`.
"""

from vndx.embedded.ports import (
    ExitedWhileStartingError,
    NotReadyError,
    PortInUseError,
    free_port,
    free_ports,
    wait_for,
)
from vndx.embedded.postgres import Postgres
from vndx.embedded.seaweed import ADMIN_ACTIONS, S3Identity, SeaweedS3
from vndx.embedded.tansu import Tansu, create_topics, create_topics_sync

__all__ = [
    "ADMIN_ACTIONS",
    "ExitedWhileStartingError",
    "NotReadyError",
    "PortInUseError",
    "Postgres",
    "S3Identity",
    "SeaweedS3",
    "Tansu",
    "create_topics",
    "create_topics_sync",
    "free_port",
    "free_ports",
    "wait_for",
]

"""The background checkpointer: signs what is due, only that, and resumes from the store."""

from __future__ import annotations

from sqlalchemy import Engine

from services.common.db import transaction
from services.common.settings import Settings
from streams.audit.checkpoints import Checkpointer, list_checkpoints
from streams.audit.keys import ledger_signing_key
from streams.audit.tree import LedgerTree
from tests.unit.audit.audit_events import access_sequence, wrap
from tests.unit.audit.conftest import Apply


def stored_sizes(engine: Engine) -> list[int]:
    with transaction(engine) as session:
        return [c.tree_size for c in list_checkpoints(session)]


def test_checkpointer_signs_every_n_records_and_nothing_in_between(
    engine: Engine, apply: Apply, settings: Settings
) -> None:
    key = ledger_signing_key(settings)
    checkpointer = Checkpointer(engine, LedgerTree(engine), key, every=4, interval_s=3600)
    assert checkpointer.check() is None  # an empty ledger
    for payload in access_sequence("a"):
        apply(wrap(payload))
    assert checkpointer.check() is not None  # the first records are signed at once
    assert checkpointer.check() is None  # nothing new
    for payload in access_sequence("b")[:3]:
        apply(wrap(payload))
    assert checkpointer.check() is None  # 3 of 4 unsigned, within the hour
    apply(wrap(access_sequence("b")[3]))
    assert checkpointer.check() is not None
    assert stored_sizes(engine) == [4, 8]

    # A new process (restart) knows the stored checkpoint, and signs nothing twice.
    restarted = Checkpointer(engine, LedgerTree(engine), key, every=4, interval_s=3600)
    assert restarted.check() is None
    for payload in access_sequence("c"):
        apply(wrap(payload))
    assert restarted.check() is not None
    assert stored_sizes(engine) == [4, 8, 12]
    assert (checkpointer.signed, restarted.signed) == (2, 1)


def test_checkpointer_signs_a_few_records_once_the_interval_has_passed(
    engine: Engine, apply: Apply, settings: Settings
) -> None:
    key = ledger_signing_key(settings)
    checkpointer = Checkpointer(engine, LedgerTree(engine), key, every=100, interval_s=0)
    apply(wrap(access_sequence("a")[0]))
    assert checkpointer.check() is not None
    apply(wrap(access_sequence("a")[1]))
    assert checkpointer.check() is not None  # one record, but the interval (0 s) is over
    assert stored_sizes(engine) == [1, 2]

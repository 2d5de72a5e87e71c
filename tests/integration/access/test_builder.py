"""The extract builder starts when an ``order.paid`` is consumed, not on its next poll,
and builds the grants of one batch side by side, each into its own objects.

The app here polls once an hour, so only the wake-up can build anything in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.access.adapters.extracts import extract_prefix
from tests.integration.access.conftest import Exchange, StartExchange, write_population


@pytest.fixture(scope="module")
def woken(
    start_exchange: StartExchange, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exchange]:
    tmp = tmp_path_factory.mktemp("access-builder")
    polls_hourly = {"grant_build_poll_interval_s": 3600.0, "grant_build_workers": 3}
    with start_exchange(tmp, **polls_hourly) as exchange:
        yield exchange


@pytest.fixture(scope="module")
def listing(woken: Exchange) -> str:
    raw, columns = write_population(woken.tmp / "population.csv", 400)
    return woken.publish_listing("bca-c06", columns, raw)


def test_a_paid_order_is_built_without_waiting_for_the_poll(woken: Exchange, listing: str) -> None:
    order = woken.paid("startup-woken", listing)
    woken.emit(order)

    grant = woken.grant_for(order, timeout_s=30)  # the poll would come in an hour

    assert grant["status"] == "issued", grant


def test_grants_paid_together_are_built_together_each_into_its_own_objects(
    woken: Exchange, listing: str
) -> None:
    orders = [woken.paid(f"startup-batch-{n}", listing) for n in range(6)]
    woken.emit(*orders)  # one batch: one wake-up finds all six pending

    grants = [woken.grant_for(order, timeout_s=60) for order in orders]

    assert [g["status"] for g in grants] == ["issued"] * 6
    for grant in grants:
        keys = woken.store.list_keys(extract_prefix(grant["id"]))
        assert sorted(Path(key).suffix for key in keys) == [".csv", ".parquet"], keys
        csv_body = woken.download(grant, "csv")
        assert csv_body.status_code == 200
        assert len(csv_body.text.strip().splitlines()) == grant["rows"] + 1  # with its header

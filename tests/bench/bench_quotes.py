"""Quotes per second in process: the reference path (price + make_quote + sign, three
pydantic validations) beside the service's path (`QuoteIssuer.issue`: memoised pricing,
pre-encoded RFC 8785 fragments, one signature), with its memo hit and missed; and verify.

Run: .venv/bin/python tests/bench/bench_quotes.py [--seconds 5]
Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.table import Table

from services.pricing.domain import (
    BuyerProfile,
    DatasetFacts,
    Product,
    QuoteIssuer,
    QuoteSigner,
    Segment,
    SignedQuote,
    load_default_policy,
    make_quote,
    price,
    verify_quote,
)

NOW = datetime(2025, 10, 15, 3, 0, tzinfo=UTC)


def workload() -> list[tuple[DatasetFacts, Product, int, BuyerProfile]]:
    """A mix of datasets, products, durations and buyers, cycled through."""
    datasets = [
        DatasetFacts(
            listing_id=f"listing-{n}",
            version=1 + n % 3,
            org=f"org-{n % 5}",
            theme=("health", "finance", "environment", "statistics")[n % 4],
            provinces=() if n % 2 else ("ha-noi", "hue")[: 1 + n % 2],
            row_count=1_000 * 7**n,
            column_count=12,
            classification={
                "direct_identifier": 1,
                "quasi_identifier": 3,
                "sensitive": n % 3,
                "attribute": 8 - n % 3,
            },
            quality_score="0.8",
            update_frequency=("daily", "monthly", "yearly", "once")[n % 4],
            last_updated=NOW - timedelta(days=10 * n),
            list_price=None if n % 3 else 5_000_000,
        )
        for n in range(6)
    ]
    buyers = [
        BuyerProfile(org=f"buyer-{s.value}", segment=s, verified=True, prior_paid_orders=n * 4)
        for n, s in enumerate(Segment)
    ]
    return [
        (facts, product, days, buyer)
        for facts, product, days, buyer in itertools.product(
            datasets, list(Product), (7, 30, 90, 365), buyers
        )
    ]


def rate(operation: Callable[[int], object], seconds: float) -> tuple[int, float, float]:
    """Count, per wall second, and per CPU second of this process (the machine is shared:
    CPU time is what one quote costs, whatever else runs)."""
    done, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(200):
            operation(done)
            done += 1
    cpu = time.process_time() - cpu_start
    return done, done / elapsed, done / cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="time per measurement")
    seconds = parser.parse_args().seconds

    policy = load_default_policy()
    key = Ed25519PrivateKey.generate()
    signer = QuoteSigner(key)
    cases = workload()
    signed_samples: list[SignedQuote] = []

    def price_only(i: int) -> object:
        facts, product, days, buyer = cases[i % len(cases)]
        return price(policy, facts, product, days, buyer, NOW)

    def price_and_sign(i: int) -> object:
        facts, product, days, buyer = cases[i % len(cases)]
        priced = price(policy, facts, product, days, buyer, NOW)
        quote = make_quote(priced, purpose="research", justification="b")
        signed = signer.sign(quote)
        if len(signed_samples) < 500:
            signed_samples.append(signed)
        return signed

    issuer = QuoteIssuer(signer)
    forgetful = QuoteIssuer(signer, capacity=0)

    def service_path(i: int) -> object:
        facts, product, days, buyer = cases[i % len(cases)]
        return issuer.issue(
            policy, facts, product, days, buyer, NOW, purpose="research", justification="b"
        )

    def service_path_memo_missed(i: int) -> object:
        facts, product, days, buyer = cases[i % len(cases)]
        return forgetful.issue(
            policy, facts, product, days, buyer, NOW, purpose="research", justification="b"
        )

    for i in range(len(cases)):  # the service prices each combination once, then reuses it
        service_path(i)

    def parse_and_verify(i: int) -> object:
        text = signed_texts[i % len(signed_texts)]
        return verify_quote(SignedQuote.model_validate_json(text), key.public_key())

    console = Console()
    results = Table(title=f"pricing quotes, in process, {len(cases)} distinct cases")
    results.add_column("operation")
    results.add_column("count", justify="right")
    results.add_column("per second", justify="right")
    results.add_column("per CPU second", justify="right")
    results.add_column("CPU µs each", justify="right")
    for label, operation in (
        ("price", price_only),
        ("reference: price + make_quote + sign", price_and_sign),
        ("service: QuoteIssuer.issue, memo warm", service_path),
        ("service: QuoteIssuer.issue, memo missed", service_path_memo_missed),
    ):
        count, per_second, per_cpu = rate(operation, seconds)
        results.add_row(
            label, f"{count:,}", f"{per_second:,.0f}", f"{per_cpu:,.0f}", f"{1e6 / per_cpu:,.0f}"
        )
    signed_texts = [signed.model_dump_json() for signed in signed_samples]
    count, per_second, per_cpu = rate(parse_and_verify, seconds)
    results.add_row(
        "parse JSON + verify",
        f"{count:,}",
        f"{per_second:,.0f}",
        f"{per_cpu:,.0f}",
        f"{1e6 / per_cpu:,.0f}",
    )
    console.print(results)
    size = sum(len(t) for t in signed_texts) / len(signed_texts)
    console.print(f"average signed quote: {size:,.0f} bytes of JSON; goal ≥ 5,000 signed quotes/s")


if __name__ == "__main__":
    main()

"""Forecast benchmark (issue 7): 1,000,000 synthetic opportunities by owner and quarter.

Run by hand: ``python bench/forecast.py [N] [--seed S]``. Target: ``build`` under 10 s
for 1,000,000 items. Prints the build time (wall and CPU) and, side by side in the same
run, what its parts cost on the same data (amount parsing as Decimal versus as integer
cents, date-to-period parsing), as ratios of the build's CPU time.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable
from decimal import Decimal

from sfa_rules import forecast
from sfa_rules.forecast import ForecastItem

LADDER = [  # (status, probability, category, outcome), as the shipped configuration
    ("Identified Opportunity", 10, "pipeline", None),
    ("In Discussion", 20, "pipeline", None),
    ("Identified Decision Makers", 30, "pipeline", None),
    ("Proposal", 50, "best_case", None),
    ("In Negotiation", 75, "commit", None),
    ("Purchasing", 90, "commit", None),
    ("Closed Won", 100, "closed", "won"),
    ("Closed Lost", 0, "omitted", "lost"),
]


def synthetic(n: int, seed: int) -> list[ForecastItem]:
    """Seeded items shaped like a CRM export: 200 owners, 3 years, 2% gaps."""
    rng = random.Random(seed)
    owners = [f"rep.{i:03d}" for i in range(200)] + [None]
    items = []
    for i in range(n):
        status, probability, category, outcome = rng.choice(LADDER)
        override = rng.random() < 0.05 and outcome is None
        cents = rng.randrange(10_000, 50_000_000)
        amount: str | None = f"{cents // 100}.{cents % 100:02d}"
        if rng.random() < 0.1:
            amount = f"{cents // 100:,}.{cents % 100:02d}"
        elif rng.random() < 0.02:
            amount = None
        close: str | None = f"{rng.randrange(2026, 2029)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        if rng.random() < 0.02:
            close = None
        items.append(ForecastItem(
            source="opportunities.csv", row=i + 1, id=f"O-{i}",
            owner=rng.choice(owners), territory=None, status=status,
            category=category, outcome=outcome,  # type: ignore[arg-type]
            probability=rng.choice([15, 33.3, 60]) if override else probability,
            amount=amount, expected_close=close,
        ))
    return items


def timed(label: str, run: Callable[[], object], base: float | None = None) -> float:
    """Print wall and CPU seconds (CPU is the steadier figure on a shared machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ratio = f"  x{cpu / base:.2f} of build" if base else ""
    print(f"{label:<40} wall {wall:7.3f} s  cpu {cpu:7.3f} s{ratio}")
    return cpu


_CENTS = re.compile(r"-?\d+(?:\.\d\d)?")


def cents_of(text: str) -> int | None:
    """The integer-cents alternative: exact for texts with at most 2 decimals."""
    text = text.replace(",", "")
    if not _CENTS.fullmatch(text):
        return None
    whole, _, frac = text.partition(".")
    value = int(whole) * 100
    return value - int(frac or 0) if text.startswith("-") else value + int(frac or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    items = synthetic(args.n, args.seed)
    print(f"{args.n:,} items generated in {time.perf_counter() - start:.1f} s (not counted)")
    texts = [item.amount for item in items if item.amount]
    dates = [item.expected_close for item in items if item.expected_close]

    report: list[forecast.ForecastReport] = []
    base = timed("build(by=owner, period=quarter)", lambda: report.append(forecast.build(items)))
    timed("  build, weighted=False", lambda: forecast.build(items, weighted=False), base)
    timed("  build(by=status, period=month)",
          lambda: forecast.build(items, by="status", period="month"), base)
    timed("  parts: parse_amount -> Decimal", lambda: [forecast.parse_amount(t) for t in texts], base)
    timed("  parts: amount -> integer cents", lambda: [cents_of(t) for t in texts], base)
    timed("  parts: Decimal(text) alone", lambda: [Decimal(t.replace(",", "")) for t in texts], base)
    timed("  parts: period_of, uncached", lambda: [forecast.period_of(d, "quarter") for d in dates], base)
    timed("  to_json + to_table of the report",
          lambda: (forecast.to_json(report[0]), forecast.to_table(report[0])), base)
    per_million = base * 1_000_000 / args.n  # CPU seconds
    verdict = "meets" if per_million < 10 else "MISSES"
    print(f"rows {len(report[0].rows):,}, warnings {len(report[0].warnings):,}, "
          f"errors {len(report[0].errors):,}; build {per_million:.2f} CPU s per 1,000,000 items: "
          f"{verdict} the 10 s target")


if __name__ == "__main__":
    main()

"""Seeded lead exports for the crash and concurrency tests.

``python gen_leads.py OUT ROWS SEED [PREFIX]`` writes ROWS leads to OUT (CSV, UTF-8):
every territory of the shipped configuration, weighted / round-robin / least-loaded
distributions, away dates, the capacity-limited latam rep, strategic overrides, kept
owners, repeated ids (known records) and a few rows in error (no id).
``opportunities(OUT, ROWS, SEED, LEADS)`` writes opportunity rows on the first LEADS
leads: new ones, later versions of earlier ones (updates, wins, losses), unknown
statuses and unknown customers.
"""

from __future__ import annotations

import csv
import random
import sys

PLACES = [
    ("US", "CA", "94"), ("US", "OR", "97"), ("US", "WA", "98"), ("US", "NY", "10"),
    ("US", "MA", "02"), ("US", "CT", "06"), ("US", "TX", "75"), ("US", "CO", "80"),
    ("CA", "ON", "M5"), ("Canada", "QC", "H2"), ("MX", "", "06"), ("CO", "", "11"),
    ("DE", "", "10"), ("", "", ""),
]
DATES = ["2026-03-01", "2026-06-15", "2026-12-22", "2027-01-03", "2027-02-01", ""]


def generate(path: str, rows: int, seed: int, prefix: str = "L") -> None:
    rng = random.Random(seed)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "country", "state", "zip", "employees", "industry", "created",
                      "owner"])
        for i in range(rows):
            country, state, zip_ = rng.choice(PLACES)
            r = rng.random()
            lead_id = "" if r < 0.001 else (
                f"{prefix}-{rng.randrange(max(i, 1)):07d}" if r < 0.02 else f"{prefix}-{i:07d}")
            out.writerow([
                lead_id, country, state, zip_ + f"{rng.randrange(1000):03d}" if zip_ else "",
                rng.choice(["", "40", "900", "1500", "n/a"]),
                rng.choice(["", "Banking", "Insurance", "Retail", "Technology"]),
                rng.choice(DATES),
                "ana.gomez" if rng.random() < 0.01 else "",
            ])


STAGES = ["Identified Opportunity", "In Discussion", "Proposal", "In Negotiation",
          "Purchasing", "Closed Won", "Closed Lost"]


def opportunities(path: str, rows: int, seed: int, leads: int, prefix: str = "L") -> None:
    rng = random.Random(seed)
    made: list[tuple[str, str]] = []
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["id", "customer", "status", "amount", "expected_close"])
        for i in range(rows):
            if made and rng.random() < 0.3:
                oid, customer = rng.choice(made)  # a later version of an earlier one
            else:
                oid = f"O-{i:07d}"
                customer = f"{prefix}-{rng.randrange(leads):07d}" if rng.random() > 0.002 \
                    else "NOBODY"
                made.append((oid, customer))
            status = rng.choice(STAGES) if rng.random() > 0.002 else "Proposl"
            out.writerow([oid, customer, status, rng.choice(["", "1000", "25,000.50"]),
                          rng.choice(["", "2026-05-01", "2027-02-14"])])


if __name__ == "__main__":
    generate(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:5])

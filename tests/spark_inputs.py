"""Generated configurations and leads for the Spark tests and bench/spark.py: reps with
away dates and capacities, territories of every distribution, overrides, kept owners,
repeated ids and rows in error (seeded, so a failure replays)."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
COUNTRIES = ["US", "CA", "MX", "DE", "FR", "BR", "JP", ""]
DAYS = [f"2026-{m:02d}-{d:02d}" for m in (1, 3, 6, 9, 12) for d in (1, 15, 28)]


def write_config(folder: Path, seed: int) -> Path:
    """The repository's rules/ with a random territories/ folder."""
    rng = random.Random(seed)
    shutil.copytree(REPO / "rules", folder / "rules")
    reps = [f"rep{i}" for i in range(7)]
    lines = ["reps:"]
    for rep in [*reps, "carla.diaz", "sales.manager"]:
        lines.append(f"  - id: {rep}")
        lines.append(f"    name: {rep}")
        if rep in reps and rng.random() < 0.15:
            lines.append("    active: false")
        if rep != "sales.manager" and rng.random() < 0.3:
            start, end = sorted((rng.choice(DAYS), f"2026-{rng.randint(1, 12):02d}-20"))
            lines.append(f"    away: [{{from: {start}, to: {end}}}]")
        if rep != "sales.manager" and rng.random() < 0.3:
            lines.append(f"    capacity: {{max_open: {rng.randint(1, 8)}}}")
    lines.append("territories:")
    for i in range(6):
        members = rng.sample(reps, rng.randint(1, 3))
        lines += [f"  - id: t{i}", f"    name: T{i}", f"    priority: {rng.randint(1, 5) * 10}",
                  f"    when: {{country: [{', '.join(rng.sample(COUNTRIES[:-1], 2))}]}}",
                  f"    distribution: {rng.choice(['round_robin', 'round_robin', 'weighted', 'least_loaded'])}",
                  "    members:"]
        lines += [f"      - {{rep: {m}, weight: {rng.randint(1, 3)}}}" for m in members]
    lines += ["  - id: pool", "    name: Pool", "    default: true",
              "    members: [{rep: sales.manager}]"]
    (folder / "territories").mkdir()
    (folder / "territories" / "org.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def leads(n: int, seed: int) -> list[dict[str, Any]]:
    """Lead records (all columns text, as a CSV gives them)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        r = rng.random()
        id_ = "" if r < 0.01 else (f"L-{rng.randrange(max(i, 1))}" if r < 0.04 else f"L-{i}")
        out.append({
            "type": "lead", "id": id_, "country": rng.choice(COUNTRIES),
            "employees": rng.choice(["", "50", "1500"]),
            "industry": rng.choice(["", "Banking", "Retail"]),
            "created": rng.choice([*DAYS, ""]),
            "owner": "rep1" if rng.random() < 0.03 else "",
        })
    return out

"""Bench: memory of loading a large configuration (target: a whole dry run < 150 MiB).

    python bench/memory.py [--territories 10000] [--seed 7]

Writes bench/config.py's configuration twice, territories in files of 1,000 and all in
one file, and prints for each: the peak resident memory of ``sfa validate`` in a fresh
interpreter, and, traced in this one, what ``load_config`` allocates at its peak and
keeps (the Config's models, the SourceMap's positions).
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from config import write_config

from sfa_rules.config.loader import load_config

MIB = 1024 * 1024


def one_file(folder: Path) -> Path:
    """The same configuration with every territory in one file."""
    single = folder.with_name(folder.name + "-one")
    shutil.copytree(folder / "rules", single / "rules")
    (single / "territories").mkdir(parents=True)
    shutil.copy(folder / "territories" / "reps.yaml", single / "territories" / "reps.yaml")
    # Joined as text: reading 2 MB of YAML here would grow this process, and a child's
    # peak counts this process's size when it started.
    parts = [path.read_text().split("\n", 1) for path in sorted(
        (folder / "territories").glob("t*.yaml"))]
    assert all(head == "territories:" for head, _ in parts)
    text = "territories:\n" + "".join(body for _, body in parts)
    (single / "territories" / "all.yaml").write_text(text)
    return single


def validate_peak(folder: Path) -> float:
    """Peak RSS in MiB of ``sfa validate`` in a fresh interpreter."""
    child = subprocess.Popen([sys.executable, "-m", "sfa_rules", "validate", "--config",
                              str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_maxrss / 1024


def traced(folder: Path) -> tuple[float, float, float, float]:
    """MiB that load_config allocates at its peak, keeps, and keeps in models and in
    positions."""
    gc.collect()
    tracemalloc.start()
    config, sm, _ = load_config(folder)
    kept, peak = tracemalloc.get_traced_memory()
    del config
    gc.collect()
    without_models = tracemalloc.get_traced_memory()[0]
    sm.positions.clear()
    gc.collect()
    without_positions = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (peak / MIB, kept / MIB, (kept - without_models) / MIB,
            (without_models - without_positions) / MIB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--territories", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "config"
        write_config(folder, args.territories, args.seed)
        size = sum(p.stat().st_size for p in folder.rglob("*.yaml")) / 1e6
        print(f"{args.territories:,} territories, {size:.1f} MB of YAML (seed {args.seed}); MiB")
        print(f"{'layout':<22}{'validate RSS':>13}{'load peak':>11}{'kept':>8}"
              f"{'models':>8}{'positions':>11}")
        layouts = {"files of 1,000": folder, "one file": one_file(folder)}
        # The children first, for the same reason as in one_file.
        rss = {label: validate_peak(where) for label, where in layouts.items()}
        for label, where in layouts.items():
            peak, kept, models, positions = traced(where)
            print(f"{label:<22}{rss[label]:>13.0f}{peak:>11.1f}{kept:>8.1f}"
                  f"{models:>8.1f}{positions:>11.1f}")


if __name__ == "__main__":
    main()

"""Bench: ``sfa validate`` on random plans of territories, per stage (issue 13).

    python bench/validate.py                                  # 100, 1,000, 10,000
    python bench/validate.py --sizes 100 1000 --seeds 1 2 3 --generators public config
    python bench/validate.py --no-cli                         # the library path only
    python bench/validate.py --sizes 10000 --load-only        # loading alone

Plans come from both generators (tests/plans.py): ``public`` (bench/public.py: mixes of
eq, in, prefix, ranges, ne, regex, any, parents, ranked most specific first) and
``config`` (bench/config.py: six shapes, random priorities). Per plan, through the
public path: ``sfa validate --format json`` as a subprocess (wall, and CPU of the
child), and ``sfa_rules.api.validate_config`` split into its stages (reading and
merging, the configuration checks, the criteria compiler, the vocabulary check, the
SPEC §15 analysis), wall and CPU seconds each; then the count of problems by code.
Both paths must report the same problems (checked). The machine is shared: read CPU.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
import plans  # noqa: E402

from sfa_rules.analysis import static as analysis  # noqa: E402
from sfa_rules.config import checks  # noqa: E402
from sfa_rules.config.loader import load_config  # noqa: E402
from sfa_rules.criteria import vocabulary  # noqa: E402
from sfa_rules.criteria.ir import CriteriaContext  # noqa: E402


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - wall, time.process_time() - cpu


def stages(folder: Path, analyse: bool = True) -> tuple[dict[str, tuple[float, float]], list[dict[str, Any]]]:
    """The stages of ``validate_config`` (as sfa_rules.api runs them), timed."""
    out: dict[str, tuple[float, float]] = {}
    (config, sm, problems), *out["read+merge"] = timed(lambda: load_config(folder))
    found, *out["checks"] = timed(lambda: checks.run(config, sm))
    problems += found
    ctx, *out["criteria"] = timed(lambda: CriteriaContext(config, sm))
    problems += ctx.problems
    found, *out["vocabulary"] = timed(lambda: vocabulary.check(config, sm, ctx))
    problems += found
    if analyse and not any(p.severity == "error" for p in problems):
        found, *out["analysis"] = timed(lambda: analysis.check(config, sm, ctx))
        problems += found
    out["load (no analysis)"] = tuple(  # type: ignore[assignment]
        sum(out[k][i] for k in ("read+merge", "checks", "criteria")) for i in (0, 1))
    out["validate_config"] = tuple(  # type: ignore[assignment]
        sum(v[i] for k, v in out.items() if k != "load (no analysis)") for i in (0, 1))
    return out, [_asdict(p) for p in sorted(problems)]


def _asdict(p: Any) -> dict[str, Any]:
    return {k: getattr(p, k) for k in ("file", "line", "column", "severity", "code", "message")}


def cli(folder: Path) -> tuple[float, float, list[dict[str, Any]]]:
    """``sfa validate --format json`` as a subprocess: wall, child CPU, problems."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sfa_rules", "validate", "--config",
                           str(folder), "--format", "json"], capture_output=True, text=True)
    wall = time.perf_counter() - wall
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, json.loads(done.stdout)


def one(generator: str, n: int, seed: int, use_cli: bool, analyse: bool = True) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plans.write(generator, n, seed, folder)
        times, problems = stages(folder, analyse)
        print(f"{generator} {n:,} territories, seed {seed}")
        if use_cli and analyse:
            wall, cpu, shown = cli(folder)
            times["sfa validate (subprocess)"] = (wall, cpu)
            same = [_asdict_json(p) for p in shown] == problems
            print(f"  CLI and library report the same problems: {same}")
    for stage, (wall, cpu) in times.items():
        print(f"  {stage:<28}{wall:9.2f} s wall {cpu:9.2f} s cpu")
    counts = Counter(p["code"] for p in problems)
    print("  problems: " + (", ".join(f"{c} {k}" for k, c in sorted(counts.items())) or "none"))


def _asdict_json(p: dict[str, Any]) -> dict[str, Any]:
    return {k: p[k] for k in ("file", "line", "column", "severity", "code", "message")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1_000, 10_000])
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--generators", nargs="*", default=list(plans.GENERATORS))
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess run")
    parser.add_argument("--load-only", action="store_true",
                        help="loading alone: no analysis (and no subprocess run)")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}; seconds per stage, wall and CPU")
    for n in args.sizes:
        for generator in args.generators:
            for seed in args.seeds:
                one(generator, n, seed, not args.no_cli, not args.load_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())

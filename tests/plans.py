"""Random territory plans for the validate differential test and bench/validate.py:
the generators of bench/public.py (mixed shapes, ranked most specific first) and
bench/config.py (six shapes, random priorities), written as configuration folders."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench"
GENERATORS = ("public", "config")


def write(generator: str, n: int, seed: int, folder: Path, limit: int | None = None) -> None:
    """A configuration folder of ``n`` random territories from ``generator``, with
    ``settings.analysis_limit: limit`` when given."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    if generator == "public":
        import public

        items, _ = public.plan(n, seed)
        public.write_plan(folder, items)
    elif generator == "config":
        import config

        config.write_config(folder, n, seed)
    else:
        raise ValueError(f"unknown generator {generator!r}")
    if limit is not None:
        settings = folder / "rules" / "settings.yaml"
        text = settings.read_text(encoding="utf-8")
        assert text.count("\nsettings:\n") == 1 or text.startswith("settings:\n")
        settings.write_text(text.replace("settings:\n", f"settings:\n  analysis_limit: {limit}\n", 1),
                            encoding="utf-8")


def lines(problems: list[dict[str, object]]) -> list[str]:
    """``file:line:col: severity: message [code]``, one per problem, in order."""
    return [f"{p['file']}:{p['line']}:{p['column']}: {p['severity']}: {p['message']} [{p['code']}]"
            for p in problems]

"""Shared test helpers: write a configuration folder from a mapping of file texts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
from pgserver import PostgresServer, start_server

REPO = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases"

WriteConfig = Callable[[Mapping[str, str]], Path]


def write_config_files(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``{relative path: text}`` below ``root``; return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """``write_config({"rules/a.yaml": "..."})`` -> a fresh configuration folder."""
    counter = iter(range(1_000_000))

    def write(files: Mapping[str, str]) -> Path:
        return write_config_files(tmp_path / f"config{next(counter)}", files)

    return write


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session (skips where no binaries exist)."""
    yield from start_server()

"""Shared test helpers: write a configuration folder from a mapping of file texts."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session (2 cores, few shuffle partitions) for the session; skips
    where pyspark or Java is missing."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java for Spark")
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]").appName("sfa-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()

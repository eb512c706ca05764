"""``decide(df, config)`` on Spark: the stages of `sfa_rules.spark` wired as RDD steps
(see the package docstring for what each does and why it equals a sequential run)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from operator import add
from typing import Any

from pyspark import RDD
from pyspark.rdd import portable_hash  # type: ignore[import-not-found]
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from sfa_rules.config.loader import resolve_folder
from sfa_rules.engine.core import Engine
from sfa_rules.spark.plan import Plan
from sfa_rules.spark.stages import alone, engine_for, ordered_pass, window_owner, with_type

__all__ = ["DECISION_SCHEMA", "decide"]

DECISION_SCHEMA = T.StructType(
    [T.StructField("source", T.StringType()), T.StructField("row", T.LongType())]
    + [T.StructField(n, T.StringType()) for n in (
        "type", "id", "owner", "territory", "assigned_by", "status", "stage")]
    + [T.StructField("probability", T.DoubleType())]
    + [T.StructField(n, T.StringType()) for n in ("previous_status", "transition", "event")]
    + [T.StructField("warnings", T.ArrayType(T.StringType())),
       T.StructField("error", T.StructType([T.StructField(n, T.StringType())
                                           for n in ("code", "message", "field")]))]
    + [T.StructField(n, T.StringType()) for n in ("customer", "customer_status", "forecast")]
    # a lead matched to a known customer, a duplicate merged into one (account matching)
    + [T.StructField(n, T.StringType()) for n in ("account", "merged_from")]
)
_COLUMNS = [f.name for f in DECISION_SCHEMA.fields]


def decide(
    df: DataFrame,
    config: str | os.PathLike[str] | Engine | None = None,
    *,
    type: str | None = None,
    as_of: str | None = None,
    lifecycle_engine: str = "auto",
) -> DataFrame:
    """One decision per row of ``df`` (a DataFrame of records), as a DataFrame with
    §8's columns ordered by ``row``; equal to the sequential engine's decisions of the
    same rows in order, against an empty state. ``config`` is the configuration folder
    (it must be readable at the same path by every worker), or an engine loaded from
    one (``sfa_rules.load``: its folder is what the workers load); raises
    ``ConfigError`` for an invalid one, before any Spark job."""
    if isinstance(config, Engine):
        config = config.folder
    folder = str(resolve_folder(config).resolve())
    engine_for(folder, lifecycle_engine)  # fails here, on the driver, when invalid
    spark = df.sparkSession
    rows: RDD[tuple[int, dict[str, Any]]] = df.rdd.zipWithIndex().map(
        lambda pair: (pair[1], with_type(pair[0].asDict(), type))
    )
    decided = _decided(rows, folder, lifecycle_engine, as_of)
    out = decided.map(lambda pair: tuple(_column(pair[1], c) for c in _COLUMNS))
    return spark.createDataFrame(out, DECISION_SCHEMA).orderBy("row")


def _column(decision: dict[str, Any], name: str) -> Any:
    value = decision.get(name)
    if name == "probability" and value is not None:
        return float(value)
    if name == "warnings":
        return list(value or ())
    return value


def _decided(
    rows: RDD[tuple[int, dict[str, Any]]], folder: str, lifecycle_engine: str, as_of: str | None
) -> RDD[tuple[int, dict[str, Any]]]:
    """(index, decision) for every row: the alone decisions, then the windows and the
    ordered passes where a row's owner depends on other rows."""
    stage = rows.mapPartitions(
        lambda part: _alone_with_records(part, folder, lifecycle_engine, as_of)
    ).cache()
    if not stage.filter(lambda r: not r[4]).isEmpty():  # types the parallel run lacks
        serial = rows.map(lambda r: (("all", r[0]), r[1]))
        return _passes(serial, 1, folder, lifecycle_engine, as_of)
    dups: set[str] = set(
        stage.filter(lambda r: r[3] is not None and r[1].get("error") is None)
        .map(lambda r: (str(r[3]), 1)).reduceByKey(add).filter(lambda kv: kv[1] > 1)
        .keys().collect()
    )
    # matching keys link rows only when more than one row has them
    shared: set[str] = set(
        stage.flatMap(lambda r: [k for k in r[2] if k.startswith("m:")])
        .map(lambda k: (k, 1)).reduceByKey(add).filter(lambda kv: kv[1] > 1)
        .keys().collect()
    )
    keyed = stage.map(lambda r: (r[0], r[1], _keys(r, dups, shared), r[5])).cache()
    key_sets = keyed.map(lambda r: tuple(r[2])).filter(bool).distinct().collect()
    plan = Plan(engine_for(folder, lifecycle_engine), key_sets)
    routed = keyed.map(lambda r: (plan.route(r[2]), r)).cache()
    static = routed.filter(lambda x: x[0][0] == "alone").map(lambda x: (x[1][0], x[1][1]))
    windows = routed.filter(lambda x: x[0][0] == "window").map(
        lambda x: ((x[0][1], x[1][0]), x[1][1])
    )
    passes = routed.filter(lambda x: x[0][0] == "pass").map(
        lambda x: ((x[0][1], x[1][0]), x[1][3] or {})
    )
    n = max(1, rows.getNumPartitions())
    sequences = plan.windows
    windowed = windows.repartitionAndSortWithinPartitions(
        n, partitionFunc=lambda k: portable_hash(k[0])
    ).mapPartitions(lambda part: _ranked(part, sequences))
    passed = _passes(passes, n, folder, lifecycle_engine, as_of)
    return static.union(windowed).union(passed)


def _alone_with_records(
    part: Iterable[tuple[int, dict[str, Any]]], folder: str, lifecycle_engine: str,
    as_of: str | None,
) -> Iterator[tuple[int, dict[str, Any], list[str], str | None, bool, dict[str, Any] | None]]:
    records: dict[int, dict[str, Any]] = {}

    def remember(items: Iterable[tuple[int, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
        for index, record in items:
            records[index] = record
            yield index, record

    for index, decision, keys, id_, supported in alone(remember(part), folder, lifecycle_engine,
                                                       as_of):
        record = records.pop(index)
        yield index, decision, keys, id_, supported, record if keys or id_ else None


def _keys(row: tuple[Any, ...], dups: set[str], shared: set[str]) -> list[str]:
    index, decision, keys, id_ = row[:4]
    if decision.get("error") is not None:
        return []
    keys = [k for k in keys if not k.startswith("m:") or k in shared]
    if id_ in dups:
        return sorted({*keys, "id:" + id_})
    return list(keys)


def _ranked(
    part: Iterable[tuple[tuple[str, int], dict[str, Any]]], sequences: dict[str, list[str]]
) -> Iterator[tuple[int, dict[str, Any]]]:
    """A window: the rows of each territory in input order, each given the owner of
    its rank."""
    current, rank = None, 0
    for (key, index), decision in part:
        if key != current:
            current, rank = key, 0
        rank += 1
        yield index, window_owner(decision, sequences[key], rank)


def _passes(
    rows: RDD[tuple[tuple[str, int], dict[str, Any]]], n: int, folder: str,
    lifecycle_engine: str, as_of: str | None,
) -> RDD[tuple[int, dict[str, Any]]]:
    """One ordered pass per component: its rows in one partition, sorted by index."""
    return rows.repartitionAndSortWithinPartitions(
        n, partitionFunc=lambda k: portable_hash(k[0])
    ).mapPartitions(lambda part: ordered_pass(part, folder, lifecycle_engine, as_of))

"""Decisions for a Spark DataFrame of records (SPEC §21): ``decide(df, config)``.

The DataFrame's rows are records (columns = fields, ``type`` naming the record type,
else ``type=``); its order is the input order. The result has one decision per row,
§8's columns, ordered by ``row`` (1-based position in the input; ``source`` is null,
as for records given to ``Engine.session().process``). Decisions are those of one
sequential run over the rows in order, against an empty state (no ``--state``):

1. Every row is decided alone, in parallel across partitions (the matching: overrides,
   territories, lifecycle status), the engine loaded once per worker from the
   configuration folder's path.
2. Each territory whose members no date or load can make ineligible is a window over
   its records in input order: the record of rank n gets the n-th owner of its
   rotation (round robin: member (start + n) modulo the eligible members).
3. Where eligibility can change within the run (away dates, capacity, least loaded)
   the records of the territories concerned, and of those they can fall through to,
   are distributed in one ordered pass per group of such territories (in parallel
   across groups), by the sequential engine itself.

Supported record types: lead, prospect and customer (assignment and status). A
DataFrame that also holds other types (opportunities, transactions, status changes,
whose decisions depend on the customers before them) is decided in one ordered pass
over all its rows, in a single task: correct, not parallel.

pyspark is optional (the ``spark`` extra).
"""

from __future__ import annotations

from sfa_rules.spark.frames import decide

__all__ = ["decide"]

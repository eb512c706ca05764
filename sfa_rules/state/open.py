"""Which store a ``--state`` names: a PostgreSQL URL (``postgresql://…``) or a file."""

from __future__ import annotations

import os
from collections.abc import Callable

from sfa_rules.state.sqlite import SQLiteStore
from sfa_rules.state.store import StateError, Store

__all__ = ["is_postgres_url", "open_state"]


def is_postgres_url(state: object) -> bool:
    """True when ``state`` names a PostgreSQL database rather than a state file."""
    return isinstance(state, str) and state.startswith(("postgresql://", "postgres://"))


def open_state(
    state: str | os.PathLike[str] | None,
    *,
    dry_run: bool,
    lazy: bool = False,
    lock_timeout: float | None = 30.0,
    buffer_size: int = 10_000,
    on_wait: Callable[[str], None] | None = None,
) -> Store:
    """The store ``state`` names (None: a scratch dry-run state on disk), with the
    options of both stores; raises `StateError` when it cannot be used, e.g. psycopg
    is not installed."""
    if is_postgres_url(state):
        assert isinstance(state, str)
        try:  # psycopg is optional (the `postgres` extra): loaded only for a URL
            from sfa_rules.state.postgres import PostgresStore
        except ImportError as e:
            raise StateError(
                f"a PostgreSQL state needs psycopg ({e}): pip install 'sfa-rules[postgres]'"
            ) from None
        return PostgresStore(
            state, dry_run=dry_run, lazy=lazy, lock_timeout=lock_timeout,
            buffer_size=buffer_size, on_wait=on_wait,
        )
    return SQLiteStore(
        state, dry_run=dry_run, lazy=lazy, lock_timeout=lock_timeout, buffer_size=buffer_size,
        on_wait=on_wait,
    )

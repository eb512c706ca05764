"""A session keeps each customer's opportunity portfolio (counts, most advanced open one,
highest change counter) up to date write by write instead of reading the customer's
whole list on every row. Oracle: the same rows each in a session of its own over the
same state file, where every portfolio is read from the state afresh."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sfa_rules
from sfa_rules.state import SQLiteStore

STAGES = ["Identified Opportunity", "In Discussion", "Proposal", "In Negotiation",
          "Purchasing", "Closed Won", "Closed Lost"]
CUSTOMERS = [
    {"type": "prospect", "id": f"C{i}", "company": f"Co {i}", "country": "US", "state": "NY"}
    for i in range(3)
]

_rows = st.lists(
    st.one_of(
        st.builds(
            lambda o, c, s, p: {"type": "opportunity", "id": f"O{o}", "customer": f"C{c}",
                                "status": s, **({"probability": p} if p is not None else {})},
            st.integers(0, 6), st.integers(0, 2), st.sampled_from(STAGES),
            st.one_of(st.none(), st.integers(0, 100)),
        ),
        st.builds(lambda t, c: {"type": "estimate", "id": f"E{t}", "customer": f"C{c}"},
                  st.integers(0, 99), st.integers(0, 2)),
    ),
    min_size=1, max_size=25,
)


def _decided(engine: sfa_rules.Engine, state: Path, batches: list[list[dict[str, Any]]]) -> list[Any]:
    decisions = []
    for batch in batches:
        with engine.session(state=state, as_of="2026-01-15") as session:
            # rows are numbered per session: compare the rest
            decisions.extend({**d.to_dict(), "row": None} for d in session.process(batch))
            session.commit()
    return decisions


def _opportunities(state: Path) -> list[Any]:
    with SQLiteStore(state, dry_run=True) as store:
        return list(store.all_opportunities())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_rows)
def test_one_session_decides_as_a_session_per_row(rows: list[dict[str, Any]], tmp_path_factory: Any) -> None:
    engine = sfa_rules.load()
    folder = tmp_path_factory.mktemp("p")
    together, apart = folder / "together.db", folder / "apart.db"
    # every row unique, so that none is taken for one applied before (SPEC §9)
    rows = [{**r, "note": f"row {i}"} for i, r in enumerate(rows)]
    _decided(engine, together, [CUSTOMERS])
    _decided(engine, apart, [CUSTOMERS])
    assert _decided(engine, together, [rows]) == _decided(engine, apart, [[r] for r in rows])
    assert _opportunities(together) == _opportunities(apart)

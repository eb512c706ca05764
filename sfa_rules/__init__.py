"""sfa-rules: a rules engine for sales-force automation, configured by YAML.

    import sfa_rules
    engine = sfa_rules.load("path/to/config")      # raises sfa_rules.ConfigError
    decision = engine.decide({"type": "lead", "id": "L-1", "country": "US"})
    with engine.session(state="sfa-state.db") as session:
        for decision in session.process(records):
            ...
        session.commit()

Importing the package has no side effects: nothing is written, printed or registered.
"""

from sfa_rules import records  # sfa_rules.records.read, .imports: the CLI's readers
from sfa_rules.engine.core import Engine, Session, load
from sfa_rules.engine.decision import Decision
from sfa_rules.errors import ConfigError, Problem, RecordError
from sfa_rules.state.store import StateError

__all__ = ["ConfigError", "Decision", "Engine", "Problem", "RecordError", "Session", "StateError",
           "load", "records"]
__version__ = "0.1.0"

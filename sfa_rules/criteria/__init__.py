"""The criteria language: its IR, the facts of a record, compiled predicates."""

"""Decisions out: writers, the run summary, and diff."""

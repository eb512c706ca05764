"""Static proofs about the rules (SPEC §15): shadowing, ambiguity, coverage, statuses."""

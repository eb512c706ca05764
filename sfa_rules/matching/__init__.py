"""Lead-to-account matching and duplicate leads (SPEC §19): keys, and the matcher."""

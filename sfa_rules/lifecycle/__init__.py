"""Customer statuses, transitions (native and durable-rules) and opportunity rows."""

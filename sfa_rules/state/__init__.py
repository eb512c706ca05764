"""What runs remember: the Store contract, in memory and in SQLite."""

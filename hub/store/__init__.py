"""The only code that speaks SQL: the hub's SQLite store (WAL, group commit, outbox)."""

"""Versioned migrations: Atlas-format directories, the revisions table, apply, status,
down and lint (reference §1, §2, §4)."""

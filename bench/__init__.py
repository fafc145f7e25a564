"""Benchmarks of the ledger against the raw database, measured in one run (see docs/benchmark.md)."""

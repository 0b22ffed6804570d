"""Benchmarks and the conformance harness (run through `make bench` / `make conformance`)."""

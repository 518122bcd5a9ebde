"""Benchmarks and the text-model fit, run by hand (never part of the test run)."""

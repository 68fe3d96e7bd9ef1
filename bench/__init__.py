"""Benchmarks: the engine alone (`bench.engine`) and the whole stack (`bench.rush`)."""

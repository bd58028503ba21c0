"""Benchmark scenarios: each module has `run(options) -> dict` and `markdown(result)`."""

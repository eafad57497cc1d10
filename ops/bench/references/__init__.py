"""Reference servers that `invoke bench` measures the project against (see ops/bench.py)."""

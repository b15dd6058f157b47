"""Version of the synthetic generator (recorded in meta.json)."""

__version__ = "1.1.0"  # 1.1: the pavement style leaves seven feature switches off

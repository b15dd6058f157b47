"""Version of the synthetic generator (recorded in meta.json)."""

__version__ = "1.0.0"

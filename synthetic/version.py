"""Version of the synthetic generator (recorded in meta.json)."""

__version__ = "1.2.0"  # 1.2: style files, fit-style, levels, real-photo backgrounds (presets unchanged)
# 1.1: the pavement style leaves seven feature switches off

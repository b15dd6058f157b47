"""Version of the synthetic generator (recorded in meta.json)."""

# 1.2: style files, fit-style, the levels effect, real-photo backgrounds (presets unchanged)
# 1.1: the pavement style leaves seven feature switches off
__version__ = "1.2.0"

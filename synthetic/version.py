"""Version of the synthetic generator (recorded in meta.json)."""

# 1.3: magnetic-tile types (blowhole, break, fray, uneven), the ferrite material and the
#      magnetic_tile style, Style.class_presence, meta.json classes = the types' class names
#      (built-in types and styles render as in 1.2)
# 1.2: style files, fit-style, the levels effect, real-photo backgrounds (presets unchanged)
# 1.1: the pavement style leaves seven feature switches off
__version__ = "1.3.0"

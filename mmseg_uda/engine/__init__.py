"""Hooks and runner utilities registered into mmseg's registries."""

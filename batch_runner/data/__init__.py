"""Data files read with ``importlib.resources``: per-model tables with their sources, bundled examples."""

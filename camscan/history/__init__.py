"""Runs over time: what changed between two runs (diff.py) and how to show it (render.py)."""

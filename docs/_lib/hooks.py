"""MkDocs hook: make the executed pages' helper importable and keep matplotlib off any display."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def on_config(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    return config

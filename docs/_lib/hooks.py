"""MkDocs hook: make the executed pages' helper importable, keep matplotlib off any display, and time
each page's rendering (which includes running its code blocks): NN_DOCS_TIMES=1 prints the slowest."""
import logging
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
log = logging.getLogger("mkdocs.hooks.nn")
_started = {}
_seconds = {}


def on_config(config):
    os.environ.setdefault("MPLBACKEND", "Agg")
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    return config


def on_page_markdown(markdown, page, **kwargs):
    _started[page.file.src_uri] = time.perf_counter()
    return markdown


def on_page_content(html, page, **kwargs):
    _seconds[page.file.src_uri] = time.perf_counter() - _started.pop(page.file.src_uri)
    return html


def on_post_build(config):
    if os.environ.get("NN_DOCS_TIMES"):
        for uri, seconds in sorted(_seconds.items(), key=lambda item: -item[1])[:10]:
            log.info(f"{seconds:6.2f} s  {uri}")
    _seconds.clear()

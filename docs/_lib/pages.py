"""Helpers for the executed code of the site's pages (imported by a hidden block at the top of a page).

show(fig, alt): a matplotlib figure embedded in the page as a PNG <img> (base64 data URI), so that a
page's figures are produced by its own code at build time and need no file beside the page.

markdown-exec captures a block's output by giving the block its own ``print``; the helpers print with
the calling block's ``print`` so that what they print lands in the page, not on the build's stdout.
"""
import base64
import html
import io
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "font.size": 10})


def show(fig, alt):
    """Print ``fig`` as an <img> with the alternative text ``alt``, and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    _caller_print()(f'<img class="nn-figure" alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">')


def svg(text, alt):
    """An SVG document (e.g. Graphviz's output) as an inline <figure>, its XML prologue dropped."""
    start = text.find("<svg")
    _caller_print()(f'<figure class="nn-figure" role="img" aria-label="{html.escape(alt, quote=True)}">{text[start:]}</figure>')


def _caller_print():
    """The ``print`` of the executed block that called a helper (two frames up)."""
    return sys._getframe(2).f_globals.get("print", print)

"""MkDocs hook: make the executed pages' helper importable, keep matplotlib off any display, time each
page's rendering (which includes running its code blocks): NN_DOCS_TIMES=1 prints the slowest, and
show, without running them, the blocks of a part of a page that needs an optional package that is not
installed here.

A page marks such a part with two HTML comments:

    <!-- needs: torch -->
    ... the blocks that import torch ...
    <!-- end needs -->

Without torch, the part's executed blocks become plain code blocks (those that show no source are
dropped) under a note that says how to install it. CI installs every package the site needs (.ci/docs
checks first), so there every part runs.

And include blocks of another file of the repository, so that a page shows a table kept elsewhere (the
README's benchmark results) without a copy that could drift from it:

    <!-- include: README.md, section "## Speed", blocks 2-3 -->

is replaced by blocks 2 to 3 of the section under that heading (a block: a paragraph, a table or a
fenced code block, separated by blank lines; the section ends at the next heading of its level or
above). A missing file, heading or block fails the build. (pymdownx.snippets includes lines, whose
numbers move with every edit, or sections between markers that the other file would have to carry.)
"""
import importlib.util
import logging
import os
import re
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


# package -> (its name for readers, how to install it)
OPTIONAL = {"torch": ("PyTorch", "pip install torch")}
NEEDS = re.compile(r"<!-- needs: (\w+) -->\n(.*?)<!-- end needs -->", re.S)
EXECUTED = re.compile(r"^```(\w+) ([^\n]*\bexec=\"on\"[^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)


def installed(package):
    return importlib.util.find_spec(package) is not None


def without_missing_packages(markdown, page_name="", is_installed=installed):
    """``markdown`` with each part that needs a package that is not installed shown, not run."""
    def part(match):
        package, text = match.group(1), match.group(2)
        if is_installed(package):
            return match.group(0)
        name, install = OPTIONAL.get(package, (package, f"pip install {package}"))
        log.info(f"{page_name}: {name} is not installed here: a part of the page is shown, not run")

        def shown(block):
            language, options, code = block.groups()
            return f"```{language}\n{code}```" if 'source="' in options else ""

        note = (f'!!! note "{name} is not installed here"\n    `{install}` to run this part: its code is shown '
                "below without its output.\n\n")
        return note + EXECUTED.sub(shown, text)

    return NEEDS.sub(part, markdown)


ROOT = os.path.dirname(os.path.dirname(HERE))
INCLUDE = re.compile(r'^<!-- include: (\S+), section "(#+) ([^"]+)", blocks (\d+)-(\d+) -->$', re.M)


def blocks(lines):
    """The blocks of markdown ``lines``: paragraphs and tables between blank lines, fenced code whole."""
    found, current, fence = [], [], None
    for line in lines:
        if fence is None and not line.strip():
            if current:
                found.append(current)
            current = []
            continue
        current.append(line)
        marker = re.match(r"\s*(`{3,}|~{3,})", line)
        if marker and fence is None:
            fence = marker.group(1)
        elif marker and line.strip() == fence:
            fence = None
    if current:
        found.append(current)
    return found


def section_blocks(path, level, heading, first, last):
    """Blocks first..last (from 1) of the section under ``heading`` (``level`` #'s) of the file ``path``."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        lines = f.read().split("\n")
    start = next((i for i, line in enumerate(lines) if line.rstrip() == f"{level} {heading}"), None)
    if start is None:
        raise ValueError(f"include: {path} has no heading {level} {heading!r}")
    end = len(lines)
    for i in range(start + 1, len(lines)):
        match = re.match(r"(#+) ", lines[i])
        if match and len(match.group(1)) <= len(level):
            end = i
            break
    body = blocks(lines[start + 1:end])
    if not 1 <= first <= last <= len(body):
        raise ValueError(f"include: the section {heading!r} of {path} has {len(body)} blocks, not {first}-{last}")
    return "\n\n".join("\n".join(block) for block in body[first - 1:last])


def with_includes(markdown):
    return INCLUDE.sub(lambda m: section_blocks(m.group(1), m.group(2), m.group(3), int(m.group(4)),
                                                int(m.group(5))), markdown)


def on_page_markdown(markdown, page, **kwargs):
    _started[page.file.src_uri] = time.perf_counter()
    return without_missing_packages(with_includes(markdown), page.file.src_uri)


def on_page_content(html, page, **kwargs):
    _seconds[page.file.src_uri] = time.perf_counter() - _started.pop(page.file.src_uri)
    return html


def on_post_build(config):
    if os.environ.get("NN_DOCS_TIMES"):
        for uri, seconds in sorted(_seconds.items(), key=lambda item: -item[1])[:10]:
            log.info(f"{seconds:6.2f} s  {uri}")
    _seconds.clear()

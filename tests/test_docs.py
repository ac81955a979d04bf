"""The documentation site's sources, checked without building it (CI builds it once, in .ci/docs).

Skips when mkdocs (the ``docs`` extra) is not installed.
"""
import importlib.util
import os
import re

import pytest

pytest.importorskip("mkdocs")
yaml = pytest.importorskip("yaml")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
pytestmark = pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, "mkdocs.yml")),
                                reason="not run from a checkout with the docs")


def nav_pages(entries):
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_pages(value)
        else:
            yield value


def config():
    with open(os.path.join(ROOT, "mkdocs.yml")) as f:
        return yaml.safe_load(f)


def markdown_pages():
    found = set()
    for root, dirs, files in os.walk(DOCS):
        dirs[:] = [d for d in dirs if not d.startswith("_")]
        found.update(os.path.relpath(os.path.join(root, f), DOCS).replace(os.sep, "/")
                     for f in files if f.endswith(".md"))
    return found


def test_the_nav_lists_every_page_and_only_pages_that_exist():
    listed = list(nav_pages(config()["nav"]))
    assert len(listed) == len(set(listed)), "a page is listed twice"
    assert set(listed) == markdown_pages()


def test_the_build_is_strict():
    assert config()["strict"] is True


@pytest.mark.parametrize("page", sorted(p for p in markdown_pages() if p.startswith("lessons/") and p != "lessons/index.md"))
def test_every_lesson_executes_code_and_asserts_its_numbers(page):
    with open(os.path.join(DOCS, page)) as f:
        text = f.read()
    blocks = re.findall(r'```python exec="on"[^\n]*\n(.*?)```', text, re.S)
    assert blocks, f"{page} executes no code"
    assert any("assert" in block for block in blocks), f"{page} asserts none of its numbers"


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_browser_check_walks_every_page_and_resolves_links(tmp_path):
    check_site = load("check_site", os.path.join(ROOT, ".ci", "check_site.py"))
    for page in ("index.html", "404.html", "lessons/index.html", "lessons/neuron/index.html"):
        (tmp_path / page).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / page).write_text("<html></html>")
    assert check_site.pages(str(tmp_path)) == ["", "404.html", "lessons/", "lessons/neuron/"]
    assert check_site.target_file(str(tmp_path), "/lessons/neuron/").endswith("index.html")
    assert check_site.target_file(str(tmp_path), "/lessons/nope/") is None


def test_the_figure_helper_prints_an_image_through_the_callers_print():
    pytest.importorskip("matplotlib")
    pages = load("pages", os.path.join(DOCS, "_lib", "pages.py"))
    printed = []
    scope = {"print": printed.append, "pages": pages}
    fig = pages.plt.figure(figsize=(1, 1))
    exec("pages.show(fig, 'a \"quoted\" figure')", {**scope, "fig": fig})
    assert len(printed) == 1
    assert printed[0].startswith('<img class="nn-figure" alt="a &quot;quoted&quot; figure" src="data:image/png;base64,')

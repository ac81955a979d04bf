"""The documentation site's sources, checked without building it (CI builds it once, in .ci/docs).

Skips when mkdocs (the ``docs`` extra) is not installed.
"""
import functools
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import textwrap

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


# The lessons' worked numbers, each checked by an assert in an executed block of its page (a number only
# printed, or written in the prose, would not fail the build when it changes).
ASSERTED_NUMBERS = [
    ("lessons/neuron.md", '"0.9990889488"'),                                  # the neuron's output, 10 digits
    ("lessons/neuron.md", "0.7216"),                                          # the 2-2-1 network's output
    ("lessons/value.md", "(a.grad, b.grad, c.grad, f.grad) == (6.0, -4.0, -2.0, 4.0)"),
    ("lessons/value.md", "L.data == -8.0"),
]


def executed_blocks(page):
    with open(os.path.join(DOCS, page)) as f:
        return re.findall(r'^```python [^\n]*exec="on"[^\n]*\n(.*?)^```', f.read(), re.S | re.M)


@pytest.mark.parametrize("page, number", ASSERTED_NUMBERS)
def test_the_lessons_numbers_are_asserted_in_executed_blocks(page, number):
    asserted = [line for block in executed_blocks(page) for line in block.split("\n")
                if line.lstrip().startswith("assert") and number in line]
    assert asserted, f"{page}: no executed block asserts {number}"


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


def test_the_browser_check_finds_the_value_lessons_drawn_graph(tmp_path):
    check_site = load("check_site", os.path.join(ROOT, ".ci", "check_site.py"))
    page = tmp_path / "lessons" / "value" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text('<svg class="md-icon"></svg><pre><code>digraph { "a" [label="a | data 2.0"] }</code></pre>')
    assert not check_site.has_drawn_graph(str(tmp_path))     # an icon and the DOT text: no graph
    page.write_text('<figure class="nn-figure" role="img" aria-label="g"><svg width="8pt">'
                    '<g id="node1" class="node"><title>a</title></g></svg></figure>')
    assert check_site.has_drawn_graph(str(tmp_path))
    assert not check_site.has_drawn_graph(str(tmp_path / "nowhere"))


def test_the_figure_helper_prints_an_image_through_the_callers_print():
    pytest.importorskip("matplotlib")
    pages = load("pages", os.path.join(DOCS, "_lib", "pages.py"))
    printed = []
    scope = {"print": printed.append, "pages": pages}
    fig = pages.plt.figure(figsize=(1, 1))
    exec("pages.show(fig, 'a \"quoted\" figure')", {**scope, "fig": fig})
    assert len(printed) == 1
    assert printed[0].startswith('<img class="nn-figure" alt="a &quot;quoted&quot; figure" src="data:image/png;base64,')


# ----- the API reference documents every public name --------------------------------------------------------------
API = os.path.join(DOCS, "api")


def directives(text):
    """The ``::: identifier`` directives of a page of the API reference: (identifier, its YAML options)."""
    found = []
    lines = text.split("\n")
    for i, line in enumerate(lines):
        match = re.match(r":::\s+(\S+)\s*$", line)
        if match:
            block = []
            for following in lines[i + 1:]:
                if following.strip() and not following.startswith((" ", "\t")):
                    break
                block.append(following)
            found.append((match.group(1), yaml.safe_load(textwrap.dedent("\n".join(block))) or {}))
    return found


def documented(text):
    """The dotted paths a page documents: each directive's identifier, and module.member for each name of
    its ``members`` list (``members`` left out: the module's public functions and classes)."""
    paths = set()
    for identifier, options in directives(text):
        paths.add(identifier)
        members = (options.get("options") or {}).get("members")
        if isinstance(members, list):
            paths.update(f"{identifier}.{name}" for name in members)
        elif members is None and resolve(identifier) is sys.modules.get(identifier):
            paths.update(f"{identifier}.{name}" for name in public_names(sys.modules[identifier]))
    return paths


def resolve(path):
    """The object a dotted path names (the longest importable module prefix, then attributes)."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ImportError:
            continue
        for name in parts[n:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def public_names(module):
    """The public functions and classes ``module`` defines (not those it imports)."""
    return sorted(name for name, obj in vars(module).items() if not name.startswith("_")
                  and (inspect.isclass(obj) or callable(obj) and not inspect.ismodule(obj))
                  and getattr(obj, "__module__", None) == module.__name__)


def api_pages():
    texts = {}
    for name in sorted(os.listdir(API)):
        if name.endswith(".md"):
            with open(os.path.join(API, name)) as f:
                texts[name] = f.read()
    return texts


@functools.lru_cache(maxsize=1)
def documented_objects():
    return {id(resolve(path)) for text in api_pages().values() for path in documented(text)}


def test_the_directive_parser_reads_identifiers_and_members_lists():
    text = "# T\n\n::: nn.SGD\n\n::: nn.autograd\n    options:\n      members: [MLP, draw]\n\nprose\n"
    assert documented(text) == {"nn.SGD", "nn.autograd", "nn.autograd.MLP", "nn.autograd.draw"}


@pytest.mark.parametrize("name", sorted(__import__("nn").__all__) + ["Classifier", "Regressor"])
def test_every_public_name_is_in_the_api_reference(name):
    if name in ("Classifier", "Regressor"):
        pytest.importorskip("sklearn")
    import nn

    found = id(getattr(nn, name)) in documented_objects()
    assert found, f"nn.{name} is in no ::: directive or members list of docs/api"


def test_a_module_documented_by_a_members_list_lists_every_public_function_and_class():
    """A helper added to such a module, and left out of its list, would not be in the reference."""
    pytest.importorskip("sklearn")
    objects = documented_objects()
    for page, text in api_pages().items():
        for identifier, options in directives(text):
            if isinstance((options.get("options") or {}).get("members"), list):
                module = resolve(identifier)
                missing = [name for name in public_names(module) if id(getattr(module, name)) not in objects]
                assert not missing, f"{identifier} (docs/api/{page}): {missing} not documented"


# ----- parts that need an optional package (docs/_lib/hooks.py) -----------------------------------------------------
def hooks():
    return load("hooks", os.path.join(DOCS, "_lib", "hooks.py"))


PART = """intro

<!-- needs: torch -->

```python exec="on" source="above" result="text" session="s"
import torch
print(torch.ones(2))
```

```python exec="on" session="s"
hidden = 1
```

<!-- end needs -->

```python exec="on" session="s"
after = 2
```
"""


def test_a_part_that_needs_a_missing_package_is_shown_not_run():
    shown = hooks().without_missing_packages(PART, "page.md", is_installed=lambda package: False)
    assert '!!! note "PyTorch is not installed here"\n    `pip install torch` to run this part' in shown
    assert "```python\nimport torch\nprint(torch.ones(2))\n```" in shown      # its code, as a plain block
    assert "hidden = 1" not in shown                                          # a block without source: dropped
    assert shown.count('exec="on"') == 1 and shown.endswith('```python exec="on" session="s"\nafter = 2\n```\n')
    assert hooks().without_missing_packages(PART, "page.md", is_installed=lambda package: True) == PART


@pytest.mark.parametrize("page", sorted(markdown_pages()))
def test_every_block_that_imports_torch_is_in_a_part_that_needs_it(page):
    with open(os.path.join(DOCS, page)) as f:
        text = f.read()
    outside = hooks().NEEDS.sub(lambda match: "" if match.group(1) == "torch" else match.group(0), text)
    for _language, _options, code in hooks().EXECUTED.findall(outside):
        assert not re.search(r"^\s*(import|from) torch\b", code, re.M), f"{page}: a block imports torch outside " \
            "<!-- needs: torch --> ... <!-- end needs -->"


# ----- a failing block fails the strict build ------------------------------------------------------------------------
def small_site(folder, code):
    """A one-page mkdocs project with mkdocs.yml's markdown extensions and markdown-exec plugin, whose page
    executes ``code``."""
    main = config()
    plugin = next(p for p in main["plugins"] if isinstance(p, dict) and "markdown-exec" in p)
    site = {"site_name": "t", "docs_dir": "docs", "strict": True, "markdown_extensions": main["markdown_extensions"],
            "plugins": [plugin]}
    (folder / "docs").mkdir(parents=True)
    (folder / "mkdocs.yml").write_text(yaml.safe_dump(site))
    (folder / "docs" / "index.md").write_text(f'# Page\n\n```python exec="on" source="above" result="text"\n{code}\n```\n')
    return folder


def build(folder):
    # Not -q: it filters out the warnings that --strict counts, and a failing block then exits 0.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(folder / "mkdocs.yml"),
                           "-d", str(folder / "site")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_a_failing_code_block_fails_the_strict_build(tmp_path):
    pytest.importorskip("markdown_exec")
    passing = build(small_site(tmp_path / "passing", 'print(6 * 7)\nassert 6 * 7 == 42'))
    assert passing.returncode == 0, passing.stderr
    assert "42" in (tmp_path / "passing" / "site" / "index.html").read_text()
    failing = build(small_site(tmp_path / "failing", 'print("before")\nassert 6 * 7 == 41, "the lesson is wrong"'))
    assert failing.returncode != 0
    assert "the lesson is wrong" in failing.stderr + failing.stdout


# ----- blocks included from other files of the repository (docs/_lib/hooks.py) -------------------------------------
def test_an_include_takes_blocks_of_a_section_by_its_heading(tmp_path, monkeypatch):
    module = hooks()
    (tmp_path / "OTHER.md").write_text("# Title\n\n## Speed\n\nintro [a link](x.md)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
                                      "```\nraw\n\nstill raw\n```\n\n### Deeper\n\nmore\n\n## Next\n\nnot this\n")
    monkeypatch.setattr(module, "ROOT", str(tmp_path))
    page = 'before\n\n<!-- include: OTHER.md, section "## Speed", blocks 2-3 -->\n\nafter\n'
    assert module.with_includes(page) == "before\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```\nraw\n\nstill raw\n```\n\nafter\n"
    assert "more" in module.with_includes(page.replace("blocks 2-3", "blocks 5-5"))   # a subsection belongs to it
    with pytest.raises(ValueError, match="has 5 blocks, not 5-6"):
        module.with_includes(page.replace("blocks 2-3", "blocks 5-6"))
    with pytest.raises(ValueError, match="no heading ## 'Sped'"):
        module.with_includes(page.replace("Speed", "Sped"))


@pytest.mark.parametrize("page", sorted(markdown_pages()))
def test_every_include_finds_its_blocks(page):
    with open(os.path.join(DOCS, page)) as f:
        text = f.read()
    included = hooks().with_includes(text)
    assert "<!-- include:" not in included, f"{page}: an include comment is not in the form the hook reads"

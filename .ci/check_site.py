"""The browser check of the built documentation site.

    python .ci/check_site.py [SITE_DIR] [--screenshots DIR]

Serves SITE_DIR (default: site) over http on a free localhost port (file:// URLs break some of the
theme's assets), opens every page of it (each index.html / *.html file the build wrote) in Debian's
headless chromium, driven by selenium through /usr/bin/chromedriver (given explicitly, so that
Selenium Manager never downloads a driver), and fails on:

- any SEVERE message in the browser's console (a script error, a resource that failed to load);
- any broken image (an <img> that is not ``complete`` with a ``naturalWidth`` > 0 once the page loaded);
- any internal link to a page or file the site does not have, or to an anchor its target page lacks;
- a request the site makes to another host (the site must work offline: no fonts or scripts from a CDN);
- with CI=true, a Value lesson without its drawn graph (an inline <svg> of Graphviz's nodes: without
  Graphviz the page shows the graph's DOT text instead).

Then it writes screenshots of the home page and of one lesson into --screenshots (default
site-screenshots/) and prints where they are. Without chromium or chromedriver it exits 1 when CI=true
and skips (exit 0) with a message otherwise.
"""
import argparse
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import time
import urllib.parse

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = {"home.png": "", "lesson-gender.png": "lessons/gender/"}  # name -> page (relative URL)
MIN_PAGES = 10  # fewer means the walk (or the build) went wrong
GRAPH_PAGE = "lessons/value/"  # draws nn.Value's graph with Graphviz
DRAWN_GRAPH = re.compile(r'<figure class="nn-figure"[^>]*>\s*<svg\b.*?class="node"', re.S)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # one line per request would drown the report
        pass


def serve(folder):
    """An http server for ``folder`` on a free port of 127.0.0.1, in a daemon thread; returns it."""
    handler = functools.partial(QuietHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def pages(folder):
    """Every HTML page of the built site, as URL paths relative to its root ("" for the home page)."""
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.endswith(".html"):
                rel = os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/")
                found.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return sorted(found)


def target_file(folder, path):
    """The file a URL path of the site resolves to (a folder's index.html), or None."""
    local = os.path.join(folder, urllib.parse.unquote(path).lstrip("/"))
    if os.path.isdir(local):
        local = os.path.join(local, "index.html")
    return local if os.path.isfile(local) else None


def has_drawn_graph(folder, page=GRAPH_PAGE):
    """Whether ``page`` of the built site holds a graph drawn as SVG (a figure whose <svg> has nodes)."""
    local = target_file(folder, page)
    if local is None:
        return False
    with open(local, encoding="utf-8") as f:
        return DRAWN_GRAPH.search(f.read()) is not None


def ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(path for path in CHROMIUM if os.path.exists(path))
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1000", "--hide-scrollbars", "--no-first-run"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


WAIT_FOR_IMAGES = """
const done = arguments[arguments.length - 1];
const start = Date.now();
(function poll() {
  const images = Array.from(document.images);
  if (document.readyState === "complete" && (images.every(i => i.complete) || Date.now() - start > 5000)) {
    done(images.filter(i => !(i.complete && i.naturalWidth > 0))
               .map(i => (i.getAttribute("alt") || "") + " <" + i.src.slice(0, 80) + ">"));
  } else {
    setTimeout(poll, 50);
  }
})();
"""

LINKS_AND_IDS = """
return [Array.from(document.querySelectorAll("a[href]")).map(a => a.href),
        Array.from(document.querySelectorAll("[id]")).map(e => e.id),
        document.querySelectorAll("img").length];
"""


def requested_hosts(driver):
    """The hosts of the network requests the page made (from chromium's performance log)."""
    import json

    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if url.startswith(("http://", "https://")):
                hosts.add(urllib.parse.urlsplit(url).netloc)
    return hosts


def check(folder, screenshots, require_graph=False):
    server = serve(folder)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    problems, anchors_wanted, ids_of = [], [], {}
    all_pages = pages(folder)
    if len(all_pages) < MIN_PAGES:
        problems.append(f"only {len(all_pages)} pages found in {folder} (expected at least {MIN_PAGES})")
    if require_graph and not has_drawn_graph(folder):
        problems.append(f"{GRAPH_PAGE}: the nn.Value graph is not drawn (no <svg> of its nodes: the page shows "
                        "the DOT text, Graphviz's dot was missing at build time; apt-get install graphviz)")
    problems += [f"the page {page} to screenshot is not in the site" for page in SCREENSHOTS.values()
                 if page not in all_pages]
    driver = browser()
    images = 0
    try:
        driver.set_script_timeout(30)
        for page in all_pages:
            driver.get(base + page)
            broken = driver.execute_async_script(WAIT_FOR_IMAGES)
            problems += [f"{page or '/'}: broken image {b}" for b in broken]
            for entry in driver.get_log("browser"):
                if entry["level"] == "SEVERE":
                    problems.append(f"{page or '/'}: console: {entry['message']}")
            foreign = requested_hosts(driver) - {urllib.parse.urlsplit(base).netloc}
            problems += [f"{page or '/'}: request to another host: {host}" for host in sorted(foreign)]
            links, ids, n_images = driver.execute_script(LINKS_AND_IDS)
            images += n_images
            ids_of[page] = set(ids)
            for link in links:
                parts = urllib.parse.urlsplit(link)
                if not link.startswith(base):
                    continue  # another site (none should be needed; they are not followed)
                path = parts.path[len(urllib.parse.urlsplit(base).path):]
                if target_file(folder, path) is None:
                    problems.append(f"{page or '/'}: broken link {link[len(base) - 1:]}")
                elif parts.fragment and (path.endswith("/") or path == ""):
                    anchors_wanted.append((page, path, parts.fragment, link))
        for page, path, fragment, link in anchors_wanted:
            if path in ids_of and urllib.parse.unquote(fragment) not in ids_of[path]:
                problems.append(f"{page or '/'}: link to a missing anchor {link[len(base) - 1:]}")
        os.makedirs(screenshots, exist_ok=True)
        for name, page in SCREENSHOTS.items():
            driver.get(base + page)
            driver.execute_async_script(WAIT_FOR_IMAGES)
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(1280, min(max(height, 1000), 6000) if page else 1000)
            time.sleep(0.3)
            driver.save_screenshot(os.path.join(screenshots, name))
            driver.set_window_size(1280, 1000)
    finally:
        driver.quit()
        server.shutdown()
    print(f"browser check: {len(all_pages)} pages, {images} images, "
          f"{sum(len(v) for v in ids_of.values())} anchors looked at in chromium")
    print(f"screenshots: {', '.join(os.path.join(screenshots, n) for n in SCREENSHOTS)}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", default="site", help="the built site (default: site)")
    parser.add_argument("--screenshots", default="site-screenshots", help="folder for the screenshots")
    args = parser.parse_args()
    missing = [what for what, ok in (("chromium", any(os.path.exists(p) for p in CHROMIUM)),
                                     ("chromedriver", os.path.exists(CHROMEDRIVER))) if not ok]
    if missing:
        message = f"browser check: {' and '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if ci():
            print(message + "; CI requires it", file=sys.stderr)
            return 1
        print(message + "; skipped")
        return 0
    if not os.path.isfile(os.path.join(args.site, "index.html")):
        print(f"browser check: {args.site}/index.html does not exist: build the site first (mkdocs build)",
              file=sys.stderr)
        return 1
    problems = check(args.site, args.screenshots, require_graph=ci())
    for problem in problems:
        print("  " + problem, file=sys.stderr)
    if problems:
        print(f"browser check failed: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("browser check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lessons execute top to bottom; the documentation builds with -W; a headless Chromium checks the pages.

Order matters (pytest runs a file top to bottom): the lesson tests write the executed notebooks to
docs/lessons, which the documentation build then reuses instead of executing them again. The browser part
needs Chromium (or Chrome) and its chromedriver, found on the PATH wherever the system put them, and is skipped
with the reason when either is missing (``.ci/run`` installs Debian's ``chromium`` and ``chromium-driver``, so
CI runs it); Selenium drives them and downloads nothing.
"""
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "notebooks"))
import lessons  # noqa: E402

SCREENSHOT = ROOT / "docs" / "_build" / "gallery.png"
CELL_TIMEOUT_S = 300
# figures drawn during the test build when figures/out lacks them: the quick ones (all: ~6 min on 2 cores)
GALLERY_DRAWN_IN_TEST = ("fig_f2_wide_valley", "fig_f3_eigenvalue_map", "fig_fp_free_energy")


@pytest.mark.parametrize("src", lessons.sources(), ids=lambda p: p.stem)
def test_lesson_executes_top_to_bottom(src):
    path, seconds = lessons.execute(src, lessons.EXECUTED, quick=True, timeout=CELL_TIMEOUT_S)
    print(f"{src.stem}: {seconds:.1f} s")
    nb = nbformat.read(path, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "a lesson draws at least one figure"
    assert lessons.is_current(src, lessons.EXECUTED, quick=True)


def test_five_lessons_exist():
    assert [s.stem[:2] for s in lessons.sources()] == ["01", "02", "03", "04", "05"]


def clean_tree(dest: Path) -> Path:
    """What a fresh clone holds (git's tracked and not-ignored files) copied to ``dest``: no generated page,
    gallery image, figures/out or build folder of earlier runs."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """The site built with -W from a clean tree. Two things an earlier `make` may leave are put there on
    purpose: the lessons executed above (so that they are not executed twice) and a figure's Markdown table
    in docs/_gallery (figures with verdicts write one beside their image; it must never become a page)."""
    tree = clean_tree(tmp_path_factory.mktemp("clean"))
    shutil.copytree(lessons.EXECUTED, tree / "docs" / "lessons")
    (tree / "docs" / "_gallery").mkdir()
    (tree / "docs" / "_gallery" / "fig_f12_optimizers_verdicts.md").write_text("F12 final test errors\n\n| a | b |\n")
    env = dict(os.environ, PDE_SGD_GALLERY_MAKE=",".join(GALLERY_DRAWN_IN_TEST))
    env.pop("MPLBACKEND", None)
    html = tree / "docs" / "_build" / "html"
    out = subprocess.run([sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-b", "html", "-q",
                          str(tree / "docs"), str(html)], capture_output=True, text=True, env=env, cwd=tree)
    assert out.returncode == 0, f"sphinx -W failed:\n{out.stdout[-4000:]}\n{out.stderr[-8000:]}"
    return html


def _text(path: Path) -> str:
    """A page's visible text, roughly (tags removed, entities decoded)."""
    import html
    return html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_landing_page_starts_with_start_here(built_docs):
    page = (built_docs / "index.html").read_text(encoding="utf-8")
    body = page[page.index('<div class="body"'):]
    body = body[:body.index('<div class="footer"')] if '<div class="footer"' in body else body
    headings = re.findall(r"<h2>(.*?)<a", body)
    assert headings and headings[0].strip() == "Start here", headings
    assert len(re.findall(r"<a class=\"reference internal\"", body)) < 20  # not a list of every module


def test_api_reference_splits_user_api_from_internals_one_page_per_module(built_docs):
    api = (built_docs / "api.html").read_text(encoding="utf-8")
    user, internals = api.split('id="internals"')
    for name in ("pde_sgd.hj", "pde_sgd.sde.sgd", "pde_sgd.results", "pde_sgd.fokker_planck.solver"):
        assert f"reference/{name}.html" in user and f"reference/{name}.html" not in internals, name
    for name in ("pde_sgd.sde.kernels", "pde_sgd.fokker_planck.stencil", "pde_sgd.jitfuncs", "pde_sgd.sde.rng"):
        assert f"reference/{name}.html" in internals and f"reference/{name}.html" not in user, name
    pages = {p.stem for p in (built_docs / "reference").glob("*.html")}
    assert {"pde_sgd", "pde_sgd.hj.viscous", "pde_sgd.sde.kernels"} <= pages and len(pages) > 40


def test_parameters_returns_and_raises_render_as_fields(built_docs):
    page = (built_docs / "reference" / "pde_sgd.sde.sgd.html").read_text(encoding="utf-8")
    doc = page[page.index('id="pde_sgd.sde.sgd.simulate_sgd"'):]
    doc = doc[:doc.index("</dd>\n</dl>")]
    assert "<pre>" not in doc  # not the verbatim fallback of a docstring that failed to parse
    fields = re.findall(r'<dt class="field-\w+">(\w+)', doc)
    assert fields[:3] == ["Parameters", "Returns", "Raises"], fields
    text = " ".join(_text(built_docs / "reference" / "pde_sgd.sde.sgd.html").split())
    assert text.count("n_steps, n_saves – step count and number of saves") == 1  # the pair: its text once
    assert "dt – time step (> 0" in text  # "name : description" is a description, not a type
    assert "ValueError – for bad input" in text
    viscous = " ".join(_text(built_docs / "reference" / "pde_sgd.hj.viscous.html").split())
    assert "t – scope (HJ time) > 0." in viscous and "beta – inverse temperature > 0." in viscous


def test_docs_build_with_warnings_as_errors_and_no_remote_scripts(built_docs):
    pages = list(built_docs.rglob("*.html"))
    assert {"index.html", "gallery.html", "api.html", "conventions.html", "animations.html"} <= \
        {p.name for p in pages}
    remote = re.compile(r"<(?:script|link)[^>]+(?:src|href)=\"(?:https?:)?//", re.I)
    offenders = [p.name for p in pages if remote.search(p.read_text(encoding="utf-8"))]
    assert not offenders, f"pages that load a remote script or stylesheet: {offenders}"
    assert (built_docs / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for src in lessons.sources():
        assert (built_docs / "lessons" / f"{src.stem}.html").is_file()


@pytest.fixture(scope="module")
def server(built_docs):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_docs))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> tuple[str | None, str | None]:
    """Paths of a Chromium-family browser and of chromedriver on the PATH (None where there is none)."""
    browser = next((path for path in map(shutil.which, BROWSERS) if path), None)
    return browser, shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary, driver_path = find_browser()
    if binary is None or driver_path is None:
        missing = " and ".join(n for n, p in (("a Chromium browser", binary), ("chromedriver", driver_path)) if not p)
        pytest.skip(f"no {missing} on the PATH (looked for {', '.join(BROWSERS)}; "
                    "Debian: apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never try to download a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,2400",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _images(driver):
    return driver.execute_script(
        "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")


def test_gallery_renders_every_figure_entry(browser, server):
    browser.get(server + "gallery.html")
    text = browser.find_element("tag name", "body").text
    scripts = sorted((ROOT / "figures").glob("fig_*.py"))
    sys.path.insert(0, str(ROOT / "docs"))
    import gallery
    for script in scripts:
        assert script.stem in text and f"pde-sgd figures --only {script.stem}" in text
        assert gallery.describe(script)[:40] in text
    imgs = _images(browser)
    broken = [src for src, complete, width in imgs if not (complete and width > 0)]
    assert not broken, f"broken images: {broken}"
    drawn = {Path(src).stem for src, _, _ in imgs}
    assert set(GALLERY_DRAWN_IN_TEST) <= drawn
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))


def test_lesson_pages_show_figures_and_rendered_maths(browser, server):
    from selenium.webdriver.support.ui import WebDriverWait
    for src in lessons.sources():
        browser.get(server + f"lessons/{src.stem}.html")
        imgs = _images(browser)
        assert imgs and all(c and w > 0 for _, c, w in imgs), f"{src.stem}: {imgs}"
    browser.get(server + "conventions.html")
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.querySelectorAll('mjx-container').length") > 5)
    assert not browser.execute_script("return document.querySelectorAll('mjx-merror').length")


def test_find_browser_looks_on_the_path(tmp_path, monkeypatch):
    for name in ("chromium-browser", "chromedriver"):
        (tmp_path / name).write_text("#!/bin/sh\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_browser() == (str(tmp_path / "chromium-browser"), str(tmp_path / "chromedriver"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert find_browser() == (None, None)


def test_api_pages_list_the_public_functions(built_docs):
    import pde_sgd
    ids = set()
    for page in (built_docs / "reference").glob("*.html"):
        ids |= set(re.findall(r'<dt[^>]* id="([^"]+)"', page.read_text(encoding="utf-8")))
    names = {i.rsplit(".", 1)[-1] for i in ids}
    missing = []
    for pkg in ("hj", "fokker_planck", "sde", "networks"):
        module = getattr(pde_sgd, pkg)
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type(pde_sgd)) and name not in names:
                missing.append(f"{pkg}.{name}")
    for name in ("Grid", "Result", "beta_from_sgd", "noise_scale", "explore", "animate"):
        if name not in names:
            missing.append(name)
    assert not missing, f"public callables without an API entry: {missing}"


def test_no_internal_link_is_broken(browser, server):
    seen, queue, broken = set(), ["index.html"], []
    while queue:
        page = queue.pop()
        browser.get(server + page)
        links = browser.execute_script("return Array.from(document.links).map(a => a.href);")
        for href in links:
            url = href.split("#")[0]
            if not url.startswith(server) or url in seen:
                continue
            seen.add(url)
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    ok = resp.status == 200
            except urllib.error.HTTPError:
                ok = False
            if not ok:
                broken.append(f"{url} (linked from {page})")
            elif url.endswith(".html") and url.count("/_modules/") == 0 and len(seen) < 200:
                queue.append(url[len(server):])
    assert len(seen) > 10 and not broken, broken

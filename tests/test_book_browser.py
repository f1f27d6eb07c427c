"""Build the book strictly, serve it on 127.0.0.1, and read it in headless Chromium.

Checks what a reader sees: pages load, MathJax (served locally) typesets the math,
figures render, search finds a term, and no page asks for anything outside
127.0.0.1, so the book works offline. Screenshots land in _build/screenshots/.

Chromium comes from Debian (`apt-get install chromium`); `.ci/run` installs it.
Outside CI a machine without it skips the browser checks with that instruction.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = (
    os.environ.get("DLBOOK_CHROMIUM")
    or shutil.which("chromium")
    or shutil.which("chromium-browser")
)
PAGES_WITH_MATH = [
    "book/01_history/01_why_now.html",
    "book/01_history/03_perceptron_xor.html",
    "book/02_neurons/01_neuron.html",
    "book/03_training/04_optimizers.html",
    "book/04_cnn/02_size_and_parameters.html",
    "book/06_rnn/02_vanilla_rnn.html",
    "book/07_transformers/01_attention.html",
    "book/08_vision/01_transposed_conv.html",
    "book/08_vision/05_detector.html",
    "book/appendix/source_notes.html",
]
PAGES = [
    "book/intro.html",
    "book/01_history/index.html",
    "book/01_history/02_timeline.html",
    "book/appendix/glossary.html",
    "book/appendix/api/index.html",
    "book/appendix/api/numpy_nn.html",
    "book/appendix/gpu.html",
    "book/07_transformers/06_pretraining.html",
    "book/08_vision/index.html",
    *PAGES_WITH_MATH,
]


@pytest.fixture(scope="module")
def built_book():
    """Build the book with warnings as errors, from the stored notebook outputs."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(exe) if exe.exists() else "jupyter-book",
        "build",
        str(ROOT),
        "-W",
        "-n",
        "--keep-going",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    log = result.stdout + result.stderr
    return result.returncode, log


def test_book_builds_strictly_with_no_warnings(built_book):
    code, log = built_book
    assert code == 0, log[-4000:]
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert not warnings, "\n".join(warnings[:20])
    assert (HTML / "index.html").exists()
    assert (HTML / "_static" / "mathjax" / "tex-svg-full.js").exists()


def test_built_pages_load_scripts_and_styles_only_from_the_site(built_book):
    import re

    assert built_book[0] == 0
    for page in PAGES:
        text = (HTML / page).read_text()
        scripts = re.findall(r'<script[^>]*\ssrc="([^"]+)"', text)
        styles = re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', text)
        remote = [u for u in scripts + styles if re.match(r"(https?:)?//", u)]
        assert remote == [], f"{page} loads {remote}"
    for page in PAGES_WITH_MATH:
        assert "_static/mathjax/tex-svg-full.js" in (HTML / page).read_text(), page


@pytest.fixture(scope="module")
def server(built_book):
    assert built_book[0] == 0, "the book did not build"
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI; .ci/run should install it")
        pytest.skip(
            "no Chromium here: `apt-get install chromium` to run browser checks"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


def _open(browser, url):
    """Load a page, recording every request it makes."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(url, wait_until="networkidle")
    return page, requested


def _outside(urls):
    bad = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme in ("data", "blob", "about"):
            continue
        if parsed.hostname != "127.0.0.1":
            bad.append(url)
    return bad


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES)
def test_page_loads_offline_with_figures(browser, server, path):
    page, requested = _open(browser, f"{server}/{path}")
    try:
        assert page.title(), path
        assert _outside(requested) == [], f"{path} requested {_outside(requested)}"
        broken = page.evaluate(
            "Array.from(document.images)"
            ".filter(i => !(i.complete && i.naturalWidth > 0))"
            ".map(i => i.src)"
        )
        assert broken == [], f"{path}: images that did not load: {broken}"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / (path.replace("/", "_") + ".png")))
    finally:
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES_WITH_MATH)
def test_mathjax_typesets_the_math(browser, server, path):
    page, requested = _open(browser, f"{server}/{path}")
    try:
        # the article, not the "on this page" sidebar, which may be hidden
        page.wait_for_selector("article mjx-container svg", timeout=20_000)
        typeset = page.locator("mjx-container").count()
        errors = page.locator("mjx-merror").count()
        raw = page.evaluate(
            "document.body.innerText.includes('\\\\frac')"
            " || document.body.innerText.includes('\\\\eta')"
        )
        assert typeset >= 3, f"{path}: only {typeset} formulas typeset"
        assert errors == 0, f"{path}: {errors} TeX errors"
        assert not raw, f"{path}: raw TeX left on the page"
        assert any(
            urlparse(u).path.endswith("/mathjax/tex-svg-full.js") for u in requested
        )
        assert _outside(requested) == []
        page.screenshot(
            path=str(SHOTS / (path.replace("/", "_") + ".math.png")), full_page=False
        )
    finally:
        page.close()


@pytest.mark.browser
def test_search_finds_a_term(browser, server):
    page, requested = _open(browser, f"{server}/search.html?q=perceptron")
    try:
        page.wait_for_selector("ul.search li", timeout=20_000)
        hits = page.locator("ul.search li").all_inner_texts()
        assert any("perceptron" in h.lower() for h in hits), hits[:5]
        assert _outside(requested) == []
    finally:
        page.close()


THEME_PAGES = ["book/intro.html", "book/appendix/glossary.html",
               "book/04_cnn/07_residual.html"]


@pytest.mark.browser
@pytest.mark.parametrize("width", [1400, 420])
def test_one_search_bar_and_a_quiet_console(browser, server, width):
    """The pinned theme draws one search field (a bar on desktop, an icon on a
    phone) and the pages log no errors or warnings (an earlier theme pair drew
    two bars and logged "Got invalid theme mode")."""
    for path in THEME_PAGES:
        page = browser.new_page(viewport={"width": width, "height": 900})
        logged = []
        page.on("console", lambda m, logged=logged: logged.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e, logged=logged: logged.append(f"pageerror: {e}"))
        try:
            page.goto(f"{server}/{path}", wait_until="networkidle")
            page.wait_for_selector(".search-button__button >> visible=true")
            shown = page.evaluate(
                "Array.from(document.querySelectorAll("
                "'.search-button-field, .search-button, form.bd-search'))"
                ".filter(e => e.offsetParent !== null"
                " && e.getBoundingClientRect().width > 0).length"
            )
            assert shown == 1, f"{path} at {width}px: {shown} search fields shown"
            noisy = [m for m in logged if not m.startswith(("log:", "info:", "debug:"))]
            assert noisy == [], f"{path} at {width}px logged {noisy}"
        finally:
            page.close()


@pytest.mark.browser
def test_chinese_renders_with_the_books_font(browser, server):
    """Chinese terms render as glyphs, not boxes, from the book's own subset font.

    Two different characters drawn in a font that lacks them come out as the
    same box ("tofu"); drawn in the book's font they differ. Where the machine
    has no CJK font (as in CI), the system fallback is checked to be tofu too,
    which shows the test can tell the two apart."""
    page, requested = _open(browser, f"{server}/book/appendix/glossary.html")
    try:
        result = page.evaluate(
            """async () => {
                await document.fonts.load('32px "dlbook CJK"', '反向');
                await document.fonts.ready;
                const draw = (font, ch) => {
                    const c = document.createElement('canvas');
                    c.width = 48; c.height = 48;
                    const g = c.getContext('2d');
                    g.font = font; g.fillText(ch, 4, 40);
                    return c.toDataURL();
                };
                const book = '32px "dlbook CJK"', system = '32px sans-serif';
                const term = document.querySelector('dl.glossary dt');
                return {
                    book_differs: draw(book, '反') !== draw(book, '向'),
                    system_differs: draw(system, '反') !== draw(system, '向'),
                    loaded: document.fonts.check(book, '反向'),
                    family: getComputedStyle(term).fontFamily,
                };
            }"""
        )
        assert result["loaded"], result
        assert result["book_differs"], f"the book's font draws tofu: {result}"
        assert "dlbook CJK" in result["family"], result
        assert any(u.endswith("fonts/dlbook-cjk.woff2") for u in requested)
        if os.environ.get("CI"):
            # CI installs no CJK font, so without the book's font: boxes
            assert not result["system_differs"], "CI has a CJK system font"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "glossary_cjk.png"))
    finally:
        page.close()

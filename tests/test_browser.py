"""The image explorer stays interactive in the static book, offline.

End to end: a jupytext page using :func:`signseg.widgets.image_explorer` is executed with
papermill, built with ``jupyter-book build`` from a copy of the project's ``_config.yml``
plus :func:`signseg.vendor.sphinx_config`, and opened in headless Chromium with every
non-local request aborted. Moving the controls must change the displayed frame.

Also checks the vendored JavaScript against its pins and the vendoring helpers.
Needs Chromium (``apt-get install -y chromium``; override with ``SIGNSEG_CHROMIUM``) and
Playwright for Python (``pip install playwright``; no Playwright browser download).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import jupytext
import nbformat
import papermill
import pytest
import yaml
from PIL import Image

from signseg import vendor
from signseg.errors import DataNotFoundError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

REPO = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "image_explorer_page.md"
PAGE = "book/executed/explorer"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# sphinx-thebe 0.3.1 (Jupyter Book 1.0.4) writes its inline `const THEBE_JS_URL = ...`
# config twice into every page, widgets or not; the second copy throws. Not ours to fix here.
KNOWN_PAGE_ERRORS = {"Identifier 'THEBE_JS_URL' has already been declared"}


# --- vendored files ------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def fetched() -> None:
    """The pinned files, downloaded from the npm registry if this checkout lacks them."""
    vendor.fetch_vendored()


def test_vendored_files_match_their_pins() -> None:
    assert vendor.vendored_problems() == []
    vendor.verify_vendored()


def test_verify_reports_altered_and_missing_files(tmp_path: Path) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(vendor.VENDOR_DIR, copy)
    (copy / "requirejs" / "require.js").write_bytes(b"// tampered\n")
    (copy / "html-manager" / "dist" / "7a3337626410ca2f4071.woff2").unlink()
    problems = vendor.vendored_problems(copy)
    assert len(problems) == 2
    tampered_sha = hashlib.sha256(b"// tampered\n").hexdigest()
    assert f"has SHA-256 {tampered_sha}, expected c1fc6b1d" in problems[0]
    assert "7a3337626410ca2f4071.woff2 is missing" in problems[1]
    with pytest.raises(vendor.VendoredFileError, match="signseg.vendor refresh"):
        vendor.verify_vendored(copy)


def _npm_like_tarball(path: Path, members: dict[str, bytes]) -> Path:
    """Write a ``.tgz`` laid out like ``npm pack`` output (``package/...``)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_extract_member_checks_the_hash_before_writing(tmp_path: Path) -> None:
    data = b"define('x', [], function () { return 1; });\n"
    tarball = _npm_like_tarball(tmp_path / "x-1.0.0.tgz", {"package/dist/x.js": data})
    good = vendor.VendoredFile(
        "x", "1.0.0", "package/dist/x.js", "x/x.js", hashlib.sha256(data).hexdigest()
    )
    written = vendor.extract_member(tarball, good, tmp_path / "out")
    assert written == tmp_path / "out" / "x" / "x.js"
    assert written.read_bytes() == data
    assert written.stat().st_mode & 0o777 == 0o644

    wrong = vendor.VendoredFile("x", "1.0.0", "package/dist/x.js", "y/x.js", "0" * 64)
    with pytest.raises(vendor.VendoredFileError, match="expected 0000"):
        vendor.extract_member(tarball, wrong, tmp_path / "out")
    assert not (tmp_path / "out" / "y").exists()

    absent = vendor.VendoredFile("x", "1.0.0", "package/dist/nope.js", "x/nope.js", "0" * 64)
    with pytest.raises(DataNotFoundError, match="has no file 'package/dist/nope.js'"):
        vendor.extract_member(tarball, absent, tmp_path / "out")


def test_sphinx_config_points_at_vendored_scripts_in_load_order() -> None:
    config = vendor.sphinx_config()
    static = REPO / config["html_static_path"][0]
    scripts = list(config["nb_ipywidgets_js"])
    assert scripts == [
        "vendor/requirejs/require.js",
        "vendor/signseg-requirejs-paths.js",
        "vendor/html-manager/dist/embed-amd.js",
    ]
    for script in scripts:
        assert (static / script).is_file(), script
    cdn = config["nb_ipywidgets_js"]["vendor/html-manager/dist/embed-amd.js"][
        "data-jupyter-widgets-cdn"
    ]
    assert urlparse(cdn).scheme == "" and urlparse(cdn).netloc == ""
    assert (static / config["mathjax_path"]).is_file()
    assert yaml.safe_load((REPO / "_config.yml").read_text())["sphinx"]["config"]["mathjax_path"] \
        == config["mathjax_path"]


# --- executed notebook and built book -----------------------------------------------


def _chromium() -> str:
    """Path of the Chromium executable, or a failure telling how to install it."""
    candidates = [os.environ.get("SIGNSEG_CHROMIUM"), "chromium", "chromium-browser"]
    for candidate in filter(None, candidates):
        found = shutil.which(candidate)
        if found:
            return found
    pytest.fail(
        "no Chromium found for the browser test; install it with "
        "`apt-get install -y chromium` or set SIGNSEG_CHROMIUM to a Chromium executable."
    )


def _book_config() -> dict:
    """The project's ``_config.yml`` with the vendored-widget settings merged in."""
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    config.setdefault("sphinx", {}).setdefault("config", {}).update(vendor.sphinx_config())
    return config


@pytest.fixture(scope="module")
def book_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A mini book laid out like the project's: executed notebook, vendored JS, config."""
    root = tmp_path_factory.mktemp("book")
    (root / "_config.yml").write_text(yaml.safe_dump(_book_config(), sort_keys=False))
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: {PAGE}\n")
    shutil.copytree(vendor.VENDOR_DIR, root / "book" / "_static" / "vendor")
    executed = root / f"{PAGE}.ipynb"
    executed.parent.mkdir(parents=True)
    papermill.execute_notebook(
        jupytext.read(FIXTURE),
        str(executed),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(root),
    )
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    subprocess.run(
        [str(jupyter_book), "build", "--warningiserror", "--keep-going", str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    return root


@pytest.mark.book
def test_papermill_keeps_the_widget_state(book_root: Path) -> None:
    notebook = nbformat.read(book_root / f"{PAGE}.ipynb", as_version=4)
    state = notebook.metadata["widgets"][WIDGET_STATE]["state"]
    models = [entry["model_name"] for entry in state.values()]
    # 2 units x 2 signs x 3 alphas frames, 1 + 2 + 4 stacks and links.
    assert models.count("ImageModel") == 12
    assert models.count("StackModel") == 7
    assert models.count("LinkModel") == 7
    images = [entry for entry in state.values() if entry["model_name"] == "ImageModel"]
    assert all(entry["buffers"][0]["path"] == ["value"] for entry in images)
    views = [
        output["data"][WIDGET_VIEW]["model_id"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if WIDGET_VIEW in output.get("data", {})
    ]
    assert len(views) == 2 and all(model_id in state for model_id in views)


@pytest.mark.book
def test_built_page_loads_widget_scripts_only_from_vendor(book_root: Path) -> None:
    html = (book_root / "_build" / "html" / f"{PAGE}.html").read_text()
    sources = re.findall(r'<script[^>]*\ssrc="([^"]+)"', html)
    assert sources, "no script tags found"
    assert [src for src in sources if urlparse(src).scheme or src.startswith("//")] == []
    vendored = [src.split("?")[0] for src in sources if "/vendor/" in src]
    assert vendored == [
        "../../_static/vendor/mathjax/es5/tex-mml-chtml.js",  # deferred: runs after the others
        "../../_static/vendor/requirejs/require.js",
        "../../_static/vendor/signseg-requirejs-paths.js",
        "../../_static/vendor/html-manager/dist/embed-amd.js",
    ]
    assert f'<script type="{WIDGET_STATE}">' in html
    vendor.verify_vendored(book_root / "_build" / "html" / "_static" / "vendor")


# --- the browser --------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def page_urls(book_root: Path) -> Iterator[dict[str, str]]:
    """The built page over ``http://127.0.0.1:<free port>`` and as ``file://``."""
    html_dir = book_root / "_build" / "html"
    handler = functools.partial(_QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "http": f"http://127.0.0.1:{server.server_address[1]}/{PAGE}.html",
            "file": (html_dir / f"{PAGE}.html").as_uri(),
        }
    finally:
        server.shutdown()
        server.server_close()


def _is_local(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("file", "data", "blob", "about"):
        return True
    return parsed.scheme in ("http", "https") and parsed.hostname in ("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


def _assert_shown(page: Page, caption: str, colour: tuple[int, int, int]) -> None:
    """The explorer displays exactly one frame: the one with ``caption``, in ``colour``."""
    from playwright.sync_api import expect

    expect(page.locator(".signseg-frame-caption")).to_have_text(caption)
    image = page.locator("img.widget-image")
    assert image.count() == 1, "a Stack must display exactly one frame"
    image.evaluate("img => img.decode()")  # the blob: PNG is decoded before the screenshot
    pixels = Image.open(io.BytesIO(image.screenshot())).convert("RGB")
    assert pixels.getpixel((pixels.width // 2, pixels.height // 2)) == colour


@pytest.mark.book
@pytest.mark.parametrize("scheme", ["http", "file"])
def test_explorer_is_interactive_offline(
    browser: Browser, page_urls: dict[str, str], scheme: str
) -> None:
    context = browser.new_context()
    blocked: list[str] = []
    failed: list[str] = []
    errors: list[str] = []

    def route(request_route: Route) -> None:
        url = request_route.request.url
        if _is_local(url):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on(
        "response", lambda response: failed.append(response.url) if response.status >= 400 else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(page_urls[scheme])
        page.wait_for_selector("img.widget-image", timeout=30_000)
        # Colours of the fixture: red by unit, green by sign, blue by alpha.
        _assert_shown(page, "cat · positive · α = 0", (40, 40, 20))
        page.locator(".noUi-handle").press("ArrowRight")
        _assert_shown(page, "cat · positive · α = 0.5", (40, 40, 120))
        page.get_by_role("button", name="negative").click()
        _assert_shown(page, "cat · negative · α = 0.5", (40, 200, 120))
        page.locator(".widget-dropdown select").select_option(label="dog")
        _assert_shown(page, "dog · negative · α = 0.5", (200, 200, 120))
        page.locator(".noUi-handle").press("End")
        _assert_shown(page, "dog · negative · α = 1", (200, 200, 220))
        page.get_by_role("button", name="positive").click()
        _assert_shown(page, "dog · positive · α = 1", (200, 40, 220))

        # The icon button's Font Awesome 5 font loads from the vendored woff2.
        page.wait_for_function(
            "[...document.fonts].some(font => font.family.includes('Font Awesome 5 Free')"
            " && font.status === 'loaded')",
            timeout=10_000,
        )
        # The page's math is typeset by the vendored MathJax and its vendored fonts.
        page.wait_for_selector("mjx-container", timeout=20_000)
        page.wait_for_function(
            "[...document.fonts].some(font => font.family.startsWith('MJXZERO')"
            " || font.family.startsWith('MJXTEX'))",
            timeout=10_000,
        )
    finally:
        context.close()
    assert blocked == [], f"the page requested non-local resources: {blocked}"
    assert failed == [], f"local requests failed: {failed}"
    assert [error for error in errors if error not in KNOWN_PAGE_ERRORS] == []


def test_fetch_without_the_registry_names_the_url_and_the_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(vendor, "NPM_REGISTRY", "http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(DataNotFoundError, match=r"http://127.0.0.1:9/requirejs/-/requirejs-2.3.8.tgz"):
        vendor.fetch_vendored(tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half-written

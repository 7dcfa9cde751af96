"""The README a newcomer reads and the documentation site the reference lives in.

The site is built by MkDocs with --strict, as CI builds it, so a broken link or anchor fails the
suite; every figure the README states must name the benchmark that measured it and link to the
benchmarks/README.md entry that records it, and that entry must hold the figure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MKDOCS = [sys.executable, "-m", "mkdocs"]
# A measured quantity: a number with a unit of time, throughput, a ratio or a percentage.
FIGURE = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s?(?:×|%|ms\b|µs\b|s\b|rows/s\b)")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*MKDOCS, "build", "--strict", "--config-file", str(project / "mkdocs.yml"),
                           "--site-dir", str(site)], capture_output=True, text=True, timeout=120)


def copy_site_sources(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "docs", project / "docs")
    shutil.copy(REPO_ROOT / "mkdocs.yml", project / "mkdocs.yml")
    return project


def prose(markdown: str) -> str:
    """The text outside code fences."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.DOTALL | re.MULTILINE)


def paragraphs(markdown: str) -> list[str]:
    """Paragraphs and list items: a list item's figures must be sourced in that item."""
    return [block for chunk in re.split(r"\n\s*\n", prose(markdown))
            for block in re.split(r"\n(?=- |\d+\. )", chunk) if block.strip()]


def github_anchors(markdown: str) -> dict[str, str]:
    """Each heading's anchor as GitHub makes it (repeats get -1, -2, ...), mapped to its section's text."""
    sections: dict[str, str] = {}
    seen: dict[str, int] = {}
    parts = re.split(r"^(#{1,6} .*)$", prose(markdown), flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2]):
        slug = re.sub(r"[^\w\- ]", "", heading.lstrip("#").strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        sections[slug if count == 0 else f"{slug}-{count}"] = body
    return sections


def test_the_docs_site_builds_with_strict_link_checking(tmp_path):
    result = build(REPO_ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "decisions" / "index.html").is_file()
    assert (tmp_path / "site" / "spec" / "index.html").is_file()


def test_a_broken_link_or_anchor_in_the_docs_fails_the_build(tmp_path):
    project = copy_site_sources(tmp_path)
    page = project / "docs" / "commands.md"
    page.write_text(page.read_text() + "\nSee [the spec](spec.md#no-such-heading) and [gone](gone.md).\n")
    result = build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "gone.md" in result.stderr and "no-such-heading" in result.stderr, result.stderr


def test_a_new_page_under_docs_is_in_the_site_menu_without_editing_a_list(tmp_path):
    project = copy_site_sources(tmp_path)
    (project / "docs" / "zz-new-page.md").write_text("# A page added later\n\nText.\n")
    result = build(project, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    home = (tmp_path / "site" / "index.html").read_text()
    assert "A page added later" in home and "zz-new-page/" in home


def test_the_readme_is_what_a_newcomer_needs_and_its_links_resolve():
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for command in ("make demo", "make test", "pip install mlship-gitops"):
        assert command in readme
    for target in LINK.findall(prose(readme)):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        assert (REPO_ROOT / path).exists(), target
        if anchor:
            assert anchor in github_anchors((REPO_ROOT / path).read_text()), target
    assert "## Use it in your repository" not in readme and "## The model spec" not in readme


def test_every_figure_the_readme_states_links_to_the_benchmark_entry_that_holds_it():
    readme = (REPO_ROOT / "README.md").read_text()
    benchmarks = github_anchors((REPO_ROOT / "benchmarks" / "README.md").read_text())
    sourced = 0
    for block in paragraphs(readme):
        figures = [match.group(1) for match in FIGURE.finditer(block)]
        if not figures:
            continue
        scripts = re.findall(r"benchmarks/(\w+\.py)", block)
        entries = [target.partition("#")[2] for target in LINK.findall(block)
                   if target.startswith("benchmarks/README.md#")]
        assert scripts and all((REPO_ROOT / "benchmarks" / s).is_file() for s in scripts), block
        assert entries and all(entry in benchmarks for entry in entries), block
        recorded = "".join(benchmarks[entry] for entry in entries)
        for figure in figures:
            assert figure in recorded, f"{figure} is not in benchmarks/README.md#{entries}: {block}"
        sourced += len(figures)
    assert sourced >= 4

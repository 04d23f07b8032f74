"""MkDocs hook: the site carries the repository's generated results beside
the pages written for it. BENCHMARKS.md, CHANGELOG.md, the tables and the
measurement history of benchmarks/, and the plots they show are added to
the site at their repository paths, and a page's link to one of them as the
repository spells it (`../BENCHMARKS.md` from docs/) is pointed at the
site's copy. Nothing is copied into docs/: each file stays where its
generator writes it."""

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = "docs"
PATTERNS = (
    "BENCHMARKS.md",
    "CHANGELOG.md",
    "benchmarks/history.md",
    "benchmarks/results/*.md",
    "benchmarks/results/*.png",
    "benchmarks/gpu/last_*.md",
)
# A Markdown link or image target that leaves docs/: ](../path#anchor)
_LINK_OUT_OF_DOCS = re.compile(r"\]\((\.\./[^)\s#]+)(#[^)\s]*)?\)")


def repository_files():
    """The repository paths (posix, from the root) the site carries."""
    return sorted({path.relative_to(ROOT).as_posix() for pattern in PATTERNS for path in ROOT.glob(pattern)})


def on_files(files, config):
    for src_uri in repository_files():
        files.append(File(src_uri, str(ROOT), config["site_dir"], config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    carried = set(repository_files())
    page_dir = posixpath.dirname(page.file.src_uri)

    def to_site(match):
        target, anchor = match.group(1), match.group(2) or ""
        in_repository = posixpath.normpath(posixpath.join(DOCS_DIR, page_dir, target))
        if in_repository not in carried:
            return match.group(0)  # left for MkDocs to report
        return f"]({posixpath.relpath(in_repository, page_dir or '.')}{anchor})"

    return _LINK_OUT_OF_DOCS.sub(to_site, markdown)

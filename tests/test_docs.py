"""The README stays a short guide for users, and every file it points at exists."""

import re

import pytest

from conftest import REPO

DOCS = [REPO / "README.md", REPO / "bench" / "README.md", REPO / "notebooks" / "README.md"]


def test_readme_is_short():
    assert len((REPO / "README.md").read_text().splitlines()) <= 300


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_paths_in_docs_exist(doc):
    text = doc.read_text()
    paths = set(re.findall(r"\b((?:configs|recipes|bench|notebooks|tests|rewards|r1lite)/[\w./-]+\.(?:py|yaml|ipynb|png|md))", text))
    paths |= set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text))  # images
    missing = sorted(p for p in paths if "*" not in p and "<" not in p and not (REPO / p).exists()
                     and not (doc.parent / p).exists())
    assert not missing, f"{doc.name} points at missing files: {missing}"

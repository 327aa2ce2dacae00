"""The user's pages say what the tool is, not how the work went, and every page they link to exists.

README.md, docs/**/*.md and the data cards (data/*/README.md) are read by users. Numbered measuring sessions,
issue numbers, commit hashes and the names of the rented machines it was developed on are history: they belong in
CHANGELOG.md (not checked here) or in git. This check fails on any of them, naming file, line and the words.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_ORDINALS = (
    "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|"
    "fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth"
)
CHRONICLE = re.compile(
    "|".join(
        [
            r"\bsessions? ?#?\d+\b",  # "session 12", "sessions 7-18"
            rf"\b(?:{_ORDINALS})(?:[- ]call)? sessions?\b",  # "the nineteenth session"
            r"\bsession\d+\b",  # folder names such as "2026-11-29-h200-session8"
            r"\bissues? ?#?\d+\b",  # "issue 3", "issue #31"
            r"\bissue\d+-",  # folder names such as "issue3-panel"
            r"\bnvidia-h[12]00(?:-x\d)?\b",  # the rented machines' names
            r"\bdevice (?:tool|call|machine)s?\b",
            r"\bcommits? [0-9a-f]{7,40}\b",
            # a bare short commit hash: 7-12 hex digits with a letter and a digit, not part of a UUID or a longer word
            r"(?<![\w-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,12}(?![\w-])",
        ]
    ),
    re.IGNORECASE,
)


def user_pages(root: Path = ROOT) -> list[Path]:
    """README.md, every Markdown page under docs/ and every data card, in a stable order."""
    pages = [root / "README.md", *sorted((root / "docs").rglob("*.md")), *sorted(root.glob("data/*/README.md"))]
    return [p for p in pages if p.is_file()]


def chronicle_words(text: str) -> list[tuple[int, str]]:
    """(line number, matched words) for each chronicle word in ``text``."""
    return [(n, m.group(0)) for n, line in enumerate(text.splitlines(), 1) for m in CHRONICLE.finditer(line)]


@pytest.mark.parametrize(
    "line",
    [
        "measured in session 12 on the H200",
        "the nineteenth session's sweep",
        "raw output in docs/runs/2026-11-29-h200-session8/",
        "see issue 31, item 4",
        "rows in data/h200/issue3-panel/",
        "on the nvidia-h200-x4 machine",
        "one device call of 10 minutes",
        "fixed in commit b267436",
        "a crash is retried below it (f197c86)",
    ],
)
def test_each_kind_of_chronicle_word_is_found(line):
    assert chronicle_words(line), line


@pytest.mark.parametrize(
    "line",
    [
        "GPU-68485e76-1095-d792-0ba6-e4b77e272a68 is a board's UUID",
        "the colour #1f77b4 and the tag e2400_r224_in1k",
        "a session of measurements resumes from the store",
        "NVIDIA H200 (141 GB), driver 580.159.04, 2026-11-29",
        "see CHANGELOG.md for the history of the issue tracker",
    ],
)
def test_ordinary_text_passes(line):
    assert chronicle_words(line) == []


def test_user_pages_have_no_chronicle_words():
    found = [
        f"{page.relative_to(ROOT)}:{n}: {words}"
        for page in user_pages()
        for n, words in chronicle_words(page.read_text(encoding="utf-8"))
    ]
    assert not found, (
        "These pages tell the story of the work (sessions, issues, commits, machine names); say what is true now, "
        "put evidence on a docs/validation page and history in CHANGELOG.md:\n" + "\n".join(found)
    )


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_of_user_pages_resolve():
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in user_pages()
        for target in LINK.findall(page.read_text(encoding="utf-8"))
        if "://" not in target and not target.startswith("mailto:") and not (page.parent / target).exists()
    ]
    assert not broken, "links to files that do not exist:\n" + "\n".join(broken)

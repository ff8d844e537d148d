"""The team's runbook is theirs: no file in the repo is a copy of it, and no tracked file repeats a long line
of its prose.  gameday ships its own rewrite with the same facts (``runbooks/incident-response.md``); a test
that needs the original's mojibake makes it from that rewrite (``gameday_testkit.mojibake``).

With ``../shared`` beside the clone the checks read the team's file itself.  In a fresh clone without it
they use fingerprints of it (truncated SHA-256 digests, no text): of the file, of its repaired text and of
each long line of its prose, so the same checks can still fail there; nothing is skipped.  When the team
changes its runbook, ``PYTHONPATH=tests python tests/core/test_no_team_text.py`` prints the new fingerprints.

Prose is what a person wrote in sentences: one unit per line (per cell in a table row), with markup, case
and spacing normalised.  Fenced code a responder runs or a parser reads (bash, PromQL, Mermaid) is left
out: those commands and queries are facts the rewrite keeps verbatim on purpose.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import ftfy
import pytest
from gameday_testkit import REPO, SHIPPED_RUNBOOK, TEAM_RUNBOOK, mojibake

from gameday.runbook import parse_runbook

#: a prose unit longer than this (normalised) is a sentence someone wrote, not a shared fact or a short label
LONG = 60
CODE_FENCES = {"bash", "sh", "shell", "console", "promql", "mermaid"}
#: The team's runbook as ../shared held it when these were taken (see the module docstring).
TEAM_FINGERPRINTS = {
    "file": "0363892134c48f30",
    "repaired": "b7d521e92b53f117",
    "prose": frozenset({
        "1980ff3fa578ca6f",
        "4b03e1510ac889bf",
        "50205d903a50dc41",
        "5024d1cd0644e04c",
        "617304c5a8dd94f7",
        "8735ab782bb1cf06",
        "8be00a0125395183",
        "9ab46ff97f95d31f",
        "9de9e8a8011f5d66",
        "ad2fff93b64036bd",
        "c2d696e201293594",
        "c7245bc410e6637d",
        "c756f804e6ca9a96",
        "d861bd3c6e77d150",
        "dce60bd684755a8d",
        "ee04b302700f3f3e",
        "f7e6bdcea220a3e9",
        "fff9d4f909156ab3",
    }),
}

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MARKER = re.compile(r"^(?:#+|[-+>]|\d+\.|\[[ xX]\])\s+")
_SUSPECT = re.compile("[\u00c2\u00c3\u00e2\u00f0]")  # how UTF-8 read as cp1252 begins: Â Ã â ð


def digest(text: str | bytes) -> str:
    return hashlib.sha256(text.encode("utf-8") if isinstance(text, str) else text).hexdigest()[:16]


def repaired(text: str) -> str:
    """``text`` with mojibake undone (ftfy, as the runbook parser does), so a damaged copy is still a copy."""
    return ftfy.fix_text(text) if _SUSPECT.search(text) else text


def normalise(fragment: str) -> str:
    """Case, spacing, emphasis, code marks, quotes, link targets and list or heading markers do not make a
    sentence someone else's."""
    text = _LINK.sub(r"\1", fragment)
    text = re.sub(r"[*_`]+", "", text).strip().strip("\"',;")
    while (bare := _MARKER.sub("", text)) != text:
        text = bare.strip()
    return " ".join(text.split()).casefold()


def _cells(line: str) -> list[str]:
    line = line.strip()
    return line.strip("|").split("|") if line.startswith("|") else [line]


def prose(markdown: str) -> set[str]:
    """The long units of a runbook's prose (fenced commands, queries and diagrams left out)."""
    units, fence = set(), None
    for line in repaired(markdown).splitlines():
        bare = line.strip()
        if bare.startswith(("```", "~~~")):
            fence = bare[3:].strip().lower() if fence is None else None
            continue
        if fence in CODE_FENCES:
            continue
        units.update(unit for cell in _cells(bare) if len(unit := normalise(cell)) > LONG)
    return units


def file_marks(raw: bytes) -> dict[str, str]:
    """Digests of a file: its bytes, and its text repaired and re-spaced (a damaged or CRLF copy is a copy)."""
    return {"file": digest(raw), "repaired": digest(" ".join(repaired(raw.decode("utf-8", errors="replace")).split()))}


def fingerprints(raw: bytes) -> dict[str, object]:
    """:func:`file_marks` and a digest of each long unit of the file's prose."""
    return file_marks(raw) | {"prose": frozenset(digest(unit) for unit in prose(raw.decode("utf-8", "replace")))}


def searchable(text: str) -> str:
    """A file as one normalised line (lines and table cells joined by spaces), to search for a unit in."""
    return " ".join(part for piece in re.split(r"[|\n]", repaired(text)) if (part := normalise(piece)))


def copies_of_the_file(files: dict[str, bytes], marks: dict[str, object]) -> list[str]:
    """Files that are the fingerprinted file: byte for byte, or once repaired and re-spaced."""
    return [path for path, raw in files.items()
            if (own := file_marks(raw))["file"] == marks["file"] or own["repaired"] == marks["repaired"]]


def lines_found(files: dict[str, bytes], units: set[str]) -> list[tuple[str, str]]:
    """(file, unit) for every unit of ``units`` found anywhere in a file, across line breaks and table padding."""
    found = []
    for path, raw in files.items():
        haystack = searchable(raw.decode("utf-8", errors="replace"))
        found += [(path, unit) for unit in sorted(units) if unit in haystack]
    return found


def lines_fingerprinted(files: dict[str, bytes], prints: frozenset[str]) -> list[tuple[str, str]]:
    """(file, text) for every long line, table cell or double-quoted string of a file whose normalised text
    has one of ``prints`` (a whole unit: weaker than :func:`lines_found`, which needs the team's text)."""
    found = []
    for path, raw in files.items():
        for line in repaired(raw.decode("utf-8", errors="replace")).splitlines():
            pieces = {*_cells(line), *line.split('"')}
            found += [(path, piece.strip()[:80]) for piece in sorted(pieces)
                      if len(unit := normalise(piece)) > LONG and digest(unit) in prints]
    return found


@pytest.fixture(scope="module")
def tracked() -> dict[str, bytes]:
    """Every text file git tracks in this clone (as the working tree has it), by path."""
    listing = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    files = {}
    for name in filter(None, listing.decode("utf-8").split("\0")):
        path = REPO / name
        if path.is_file() and b"\0" not in (raw := path.read_bytes()):
            files[name] = raw
    assert "runbooks/incident-response.md" in files and len(files) > 100  # the listing is this repo's
    return files


def test_no_file_in_the_repo_is_the_team_runbook(tracked: dict[str, bytes]) -> None:
    """Neither the team's file (nor its repaired text), as ../shared holds it or as fingerprinted, nor the
    shipped runbook's damaged copy that tests make in a temporary folder."""
    sources = [TEAM_FINGERPRINTS]
    if TEAM_RUNBOOK.exists():
        sources.append(fingerprints(TEAM_RUNBOOK.read_bytes()))
    damaged = mojibake(SHIPPED_RUNBOOK.read_text(encoding="utf-8")).encode("utf-8")
    for marks in sources:
        assert copies_of_the_file(tracked, marks) == [], "a copy of the team's runbook is in the repo"
    assert [path for path, raw in tracked.items() if raw == damaged] == [], "the damaged runbook belongs in tmp"


def test_no_tracked_file_repeats_a_long_line_of_the_team_prose(tracked: dict[str, bytes]) -> None:
    if TEAM_RUNBOOK.exists():
        raw = TEAM_RUNBOOK.read_bytes()
        assert fingerprints(raw) == TEAM_FINGERPRINTS, "the team's runbook changed: print its fingerprints with " \
            "`PYTHONPATH=tests python tests/core/test_no_team_text.py`"
        units = prose(raw.decode("utf-8", errors="replace"))
        assert len(units) >= 15  # the check has something to look for
        found = lines_found(tracked, units)
    else:
        found = lines_fingerprinted(tracked, TEAM_FINGERPRINTS["prose"])  # type: ignore[arg-type]
    assert found == [], "the team's sentences, verbatim (write gameday's own):\n" + "\n".join(
        f"  {path}: {line}" for path, line in found)


def test_a_planted_copy_is_caught(tmp_path: Path) -> None:
    """The checks above can fail: a copy of the runbook (damaged or not), one of its long lines re-padded in
    a table or quoted in code, each is found.  The team's runbook when ../shared is there, else the shipped
    one stands in for it (the same machinery, fingerprints included)."""
    source = TEAM_RUNBOOK if TEAM_RUNBOOK.exists() else SHIPPED_RUNBOOK
    raw = source.read_bytes()
    text = repaired(raw.decode("utf-8"))
    marks = fingerprints(raw)
    units = prose(text)
    line = next(cell.strip() for row in text.splitlines() for cell in _cells(row) if normalise(cell) in units)
    files = {
        "copy.md": raw,
        "damaged.md": mojibake(text).encode("utf-8"),
        "crlf.md": text.replace("\n", "\r\n").encode("utf-8"),
        "table.md": f"| x |   {line.upper()}   |\n".encode(),
        "quoted.py": f'NOTE = "{line}"\n'.encode(),
        "own.md": SHIPPED_RUNBOOK.read_bytes() if source == TEAM_RUNBOOK else b"# nothing of it\n",
    }
    assert sorted(copies_of_the_file(files, marks)) == ["copy.md", "crlf.md", "damaged.md"]
    assert {path for path, _ in lines_found(files, units)} == {"copy.md", "crlf.md", "damaged.md", "table.md",
                                                                 "quoted.py"}
    assert {path for path, _ in lines_fingerprinted(files, marks["prose"])} == {  # type: ignore[arg-type]
        "copy.md", "crlf.md", "damaged.md", "table.md", "quoted.py"}


def test_the_shipped_runbook_is_clean_and_its_damaged_copy_repairs_to_it() -> None:
    """The rewrite carries no mojibake of its own; the damage tests make of it repairs back to it exactly and
    parses to the same model, so a test on the damaged copy tests the repair, not a different runbook."""
    text = SHIPPED_RUNBOOK.read_text(encoding="utf-8")
    assert ftfy.fix_text(text) == text
    damaged = mojibake(text)
    assert damaged != text and "\u00e2\u2020\u2019" in damaged  # → became â†’, as in the team's file
    assert ftfy.fix_text(damaged) == text
    shipped = parse_runbook(text, "runbook.md")
    assert parse_runbook(damaged, "runbook.md") == shipped
    assert [s.response_minutes for s in shipped.severities] == [15, 60, 240, None]


if __name__ == "__main__":  # print the team's fingerprints for TEAM_FINGERPRINTS
    if not TEAM_RUNBOOK.exists():
        sys.exit(f"no team runbook at {TEAM_RUNBOOK}")
    prints = fingerprints(TEAM_RUNBOOK.read_bytes())
    print(f'    "file": "{prints["file"]}",\n    "repaired": "{prints["repaired"]}",')
    print('    "prose": frozenset({')
    for value in sorted(prints["prose"]):  # type: ignore[attr-defined]
        print(f'        "{value}",')
    print("    }),")

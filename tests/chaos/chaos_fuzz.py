"""Hypothesis strategies that damage good input files the way people and tools do, and the check every
damaged input must pass: accepted, or refused with one line naming the file (a ``GamedayError``, which the
CLI prints as one line and exit 2) and nothing written.

The strategies start from the files gameday ships (scenarios, policies, the runbook, scoring fixtures) and
mutate them: a value of the wrong type, a key removed or added, a truncated or garbled line, bytes that
are not UTF-8.  Starting from good files keeps most inputs close to valid, where validation code has to
be precise, instead of random noise that every parser refuses on the first byte.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from gameday.errors import GamedayError

REPO = Path(__file__).resolve().parents[2]
#: Generated inputs per kind: at least 1,000 in CI; `make chaos` raises it.
EXAMPLES = int(os.environ.get("GAMEDAY_FUZZ_EXAMPLES", "1000"))
#: CI runs a fixed sequence (reproducible failures); `make chaos` sets GAMEDAY_FUZZ_RANDOM=1 to explore.
RANDOM = os.environ.get("GAMEDAY_FUZZ_RANDOM", "") not in ("", "0")
#: Where bench_chaos collects the figures (one JSON line per fuzz test); unset = not recorded.
FIGURES_ENV = "GAMEDAY_CHAOS_FIGURES"

DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

#: Shrinking a failure can take many minutes on a big file: off in CI (the failing input is printed as
#: found), on with GAMEDAY_FUZZ_SHRINK=1 for a minimal example.
SHRINK = os.environ.get("GAMEDAY_FUZZ_SHRINK", "") not in ("", "0")

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    print_blob=True,
)

# -- values of every type a YAML or JSON file can hold ---------------------------------------------------

TRICKY_STRINGS = ["", " ", "-1", "0", "1e400", "nan", "inf", "null", "SEV-0", "SEV-1", "SEV-99", "IC",
                  "rollback", "crashloop", "lognormal", "exponential", "fixed", "9999-12-31T23:59:59.999Z",
                  "1970-01-01T00:00:00Z", "2026-13-45T99:00:00Z", "a\nb", "\t", "é", "â†’", "../../etc/passwd"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=16), st.sampled_from(TRICKY_STRINGS),
)  # fmt: skip
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield from _paths(value, (*prefix, index))


@st.composite
def damaged_text(draw: st.DrawFn, text: str) -> bytes:
    """A text file after a bad edit: cut short, garbage typed in, a line doubled or lost, not UTF-8."""
    op = draw(st.sampled_from(["truncate", "insert", "dup-line", "drop-line", "tabs", "latin1", "none"]))
    if op == "truncate":
        return text[: draw(st.integers(0, len(text)))].encode()
    if op == "insert":
        at = draw(st.integers(0, len(text)))
        return (text[:at] + draw(st.text(min_size=1, max_size=6)) + text[at:]).encode("utf-8", "surrogatepass")
    lines = text.split("\n")
    if op in ("dup-line", "drop-line") and lines:
        at = draw(st.integers(0, len(lines) - 1))
        lines[at:at + 1] = [lines[at]] * 2 if op == "dup-line" else []
        return "\n".join(lines).encode()
    if op == "tabs":
        return text.replace("  ", "\t", draw(st.integers(1, 5))).encode()
    if op == "latin1":
        return text.encode("utf-8") + b"\n# caf\xe9 \xff\xfe\n"
    return text.encode()


@st.composite
def damaged_yaml(draw: st.DrawFn, bases: list[dict[str, Any]]) -> bytes:
    """One of ``bases`` with 1-3 structural edits (a value replaced, a key removed or added), dumped as
    YAML, sometimes also damaged as text."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "delete":
            del parent[path[-1]]
        elif op == "replace":
            parent[path[-1]] = draw(values)
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent.append(draw(values))
    text = yaml.dump(doc, Dumper=DUMPER, allow_unicode=True, sort_keys=False)
    if draw(st.integers(0, 4)) == 0:
        return draw(damaged_text(text))
    return text.encode()


NUMBER = re.compile(r"\d+(?:\.\d+)?")


@st.composite
def damaged_markdown(draw: st.DrawFn, bases: list[str]) -> bytes:
    """A runbook after careless edits: numbers changed, table cells rewritten, lines and blocks lost,
    lines swapped or doubled, headings renamed."""
    lines = draw(st.sampled_from(bases)).split("\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        at = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["number", "cell", "junk", "drop", "drop-block", "dup", "swap", "heading"]))
        if op == "number":
            replacement = draw(st.sampled_from(["0", "-1", "", "abc", "99999999999", "1e309", "nan", "½"]))
            lines[at] = NUMBER.sub(replacement, lines[at], count=1)
        elif op == "cell" and lines[at].count("|") > 1:
            cells = lines[at].split("|")
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.text(max_size=12))
            lines[at] = "|".join(cells)
        elif op == "junk":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))] + draw(st.text(max_size=10))
        elif op == "drop":
            del lines[at]
        elif op == "drop-block":
            del lines[at:at + draw(st.integers(2, 40))]
        elif op == "dup":
            lines.insert(at, lines[at])
        elif op == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == "heading" and lines[at].startswith("#"):
            lines[at] = lines[at].split(" ")[0] + " " + draw(st.text(max_size=12))
    text = "\n".join(lines)
    if draw(st.integers(0, 9)) == 0:
        return draw(damaged_text(text))
    return text.encode()


#: data keys the scorer, the report and the chart read (a wrong type there is where code breaks).
DATA_KEYS = ["level", "severity", "role", "person", "time_scale", "error_rate", "p95_seconds", "pool_in_use",
             "pool_size", "kind", "source", "scenario", "expected_severity", "path", "replicas_ready", "ok",
             "alertname", "who", "fault", "runbook", "channels", "message", "text", "checks", "state"]
EVENT_TYPES = ["journal_started", "incident_started", "fault_injected", "alert_firing", "detected",
               "acknowledged", "severity_declared", "role_assigned", "action", "mitigated", "verified",
               "resolved", "closed", "postmortem_filed", "metric_sample", "status_update", "escalated", "hint"]


ODD_TIMESTAMPS = ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2026-03-02T08:00:00+14:00",
                  "2026-03-02T09:00:00", "0001-01-01T00:00:00Z"]


def _semantic_edit(draw: st.DrawFn, events: list[dict[str, Any]]) -> None:
    """An edit that keeps every line a valid event but makes the story odd (the scorer must cope)."""
    at = draw(st.integers(0, len(events) - 1))
    event = events[at]
    op = draw(st.sampled_from(["data", "data-key", "t", "ts", "seq", "incident", "type", "drop", "dup", "swap"]))
    if op == "data" and event["data"]:
        event["data"][draw(st.sampled_from(sorted(event["data"])))] = draw(values)
    elif op == "data-key":
        event["data"][draw(st.sampled_from(DATA_KEYS))] = draw(values)
    elif op == "t":
        event["t"] = draw(st.one_of(st.floats(-1e6, 1e12), st.integers(-10, 10**9)))
    elif op == "ts":
        event["ts"] = draw(st.sampled_from(ODD_TIMESTAMPS))
    elif op == "seq":
        event["seq"] = draw(st.integers(0, 10**6))
    elif op == "incident":
        event["incident"] = draw(st.text(min_size=1, max_size=5))
    elif op == "type":
        event["type"] = draw(st.sampled_from(EVENT_TYPES))
    elif op == "drop" and len(events) > 1:
        del events[at]
    elif op == "dup":
        events.insert(at, copy.deepcopy(event))
    elif op == "swap":
        other = draw(st.integers(0, len(events) - 1))
        events[at], events[other] = events[other], events[at]


def _line_edit(draw: st.DrawFn, events: list[dict[str, Any]]) -> None:
    """An edit that breaks one line's schema: a field of the wrong type, missing or unknown."""
    event = events[draw(st.integers(0, len(events) - 1))]
    op = draw(st.sampled_from(["field", "drop-field", "add-field"]))
    if op == "field":
        event[draw(st.sampled_from(sorted(event)))] = draw(values)
    elif op == "drop-field" and event:
        event.pop(draw(st.sampled_from(sorted(event))))
    else:
        event[draw(st.text(max_size=6))] = draw(values)


@st.composite
def damaged_journal(draw: st.DrawFn, bases: list[list[dict[str, Any]]], semantic: bool) -> bytes:
    """A journal whose events are all valid but tell an odd story (``semantic``), or one with a broken
    line: a field of the wrong type, missing or unknown, and a line cut short in the middle of the file.

    (Two kinds rather than a random share: Hypothesis favours boundary draws, so a drawn share is not
    the share you get.)"""
    events = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 4))):
        (_semantic_edit if semantic else _line_edit)(draw, events)
    lines = [json.dumps(e, allow_nan=True, ensure_ascii=False) for e in events]
    if not semantic:
        at = draw(st.integers(0, max(0, len(lines) - 2)))  # not the last line: a torn tail is allowed
        lines[at] = lines[at][: draw(st.integers(1, len(lines[at]) - 1))] + draw(st.text(max_size=4))
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


# -- the check -------------------------------------------------------------------------------------------


class Tally:
    """How many inputs were tried, accepted and refused (the figures for the README and `make chaos`)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.counts: Counter[str] = Counter()

    def check(self, path: Path, call: Callable[[], object], outputs: tuple[Path, ...] = ()) -> str:
        """``call()`` must succeed, or raise a GamedayError whose message is one line naming ``path``;
        either way a failed call leaves none of ``outputs`` behind.  Anything else propagates (a bug)."""
        self.counts["inputs"] += 1
        try:
            call()
        except GamedayError as exc:
            message = str(exc)
            assert message.strip(), f"an empty error message for {path}"
            assert "\n" not in message, f"a multi-line error message: {message!r}"
            assert str(path) in message, f"the error does not name the file {path}: {message!r}"
            assert exc.exit_code == 2, f"exit code {exc.exit_code} for bad input: {message}"
            left = [str(p) for p in outputs if p.exists()]
            assert not left, f"refused input left output behind: {left} ({message})"
            self.counts["refused"] += 1
            return "refused"
        self.counts["accepted"] += 1
        return "accepted"

    def record(self) -> None:
        """Append the figures for bench_chaos (when it asked for them) and check the minimum was met."""
        assert self.counts["inputs"] >= min(EXAMPLES, 1000), f"only {self.counts['inputs']} {self.kind} inputs"
        target = os.environ.get(FIGURES_ENV)
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"fuzz": self.kind, **self.counts}) + "\n")

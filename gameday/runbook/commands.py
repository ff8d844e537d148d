"""The runbook's commands: every command line of its shell code blocks, with where it sits and what it runs.

A command is a line of a fenced ``bash``/``sh``/``shell``/``zsh`` block (comments and blank lines skipped,
``\\``-continued lines joined into one).  A fence with no info string counts only when every line of it
starts with a program we know (``kubectl``, ``curl``, ...): the runbook's message templates are unlabelled
fences and are not commands.  ``promql`` fences hold queries, not commands, and are left out; a bare PromQL
line inside a shell block (the error-rate check of "Verify Resolution") is a command of tool ``promql``.
"""

from __future__ import annotations

import re
import shlex
from enum import StrEnum

from markdown_it.token import Token
from pydantic import BaseModel, ConfigDict, Field

from gameday.runbook.markdown import Section

#: Fence info strings whose lines are shell commands.
SHELL_INFOS = frozenset({"bash", "sh", "shell", "zsh"})
#: First words that make an unlabelled fence a shell block (all of its lines must start with one).
KNOWN_PROGRAMS = frozenset({
    "kubectl", "curl", "open", "xdg-open", "gh", "pd-alert", "helm", "docker", "psql", "aws", "gcloud", "az",
    "ssh", "systemctl", "journalctl", "dig", "ping", "gameday", "kind",
})
#: PromQL functions and aggregations a bare query line starts with.
PROMQL_FUNCTIONS = frozenset({
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
    "rate", "irate", "increase", "delta", "idelta", "deriv", "histogram_quantile", "absent", "absent_over_time",
    "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time",
    "last_over_time", "predict_linear", "clamp_min", "clamp_max", "abs", "round", "label_replace", "vector",
})

_STEP = re.compile(r"^Step\s+(\d+(?:\.\d+)*)\s*:", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9_-]*>")
_URL = re.compile(r"https?://[^\s'\"<>`)]+")
_PROMQL_CALL = re.compile(r"^([a-z_]+)\s*(?:\(|\s+(?:by|without)\s*\()")
_PROMQL_SELECTOR = re.compile(r"^[a-zA-Z_:][\w:]*\{[^}]*\}(\[[^\]]+\])?\s*$")


class Tool(StrEnum):
    kubectl = "kubectl"
    curl = "curl"
    open = "open"
    promql = "promql"
    chat = "chat"  # Slack slash commands: /create, /invite
    pager = "pager"  # pd-alert
    tracker = "tracker"  # gh issue
    other = "other"


class RunbookCommand(BaseModel):
    """One command line of the runbook, verbatim (continuations joined with one space)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    section: str = Field(description='the heading it sits under: "Step 3.1: Implement Fix", "Useful Commands"')
    step: str | None = Field(default=None, description='"3.1"; None outside a step')
    line: int = Field(ge=1, description="1-based line of the markdown file where the command starts")
    text: str = Field(min_length=1, description="the command as written (pipes included)")
    tool: Tool
    placeholders: list[str] = Field(default_factory=list, description='"<POD>", "<NAMESPACE>"')
    long_running: bool = Field(default=False, description="keeps running: kubectl -w/-f, port-forward")
    urls: list[str] = Field(default_factory=list)


def extract_commands(root: Section) -> list[RunbookCommand]:
    """Every command of the runbook, in document order."""
    out: list[RunbookCommand] = []
    for section in root.walk():
        step = _STEP.match(section.title)
        for token in section.tokens:  # the section's own tokens: each fence is seen once, under its heading
            if token.type != "fence" or not _is_shell(token):
                continue
            for line, text in _command_lines(token):
                out.append(command(text, line, section.title, step.group(1) if step else None))
    out.sort(key=lambda c: c.line)
    return out


def command(text: str, line: int, section: str = "", step: str | None = None) -> RunbookCommand:
    """A :class:`RunbookCommand` from one (already joined) command line."""
    words = split(text)
    tool = classify(text, words)
    return RunbookCommand(
        section=section, step=step, line=line, text=text, tool=tool,
        placeholders=list(dict.fromkeys(_PLACEHOLDER.findall(text))),
        long_running=tool is Tool.kubectl and _kubectl_long_running(words),
        urls=list(dict.fromkeys(_URL.findall(text))),
    )


def split(text: str) -> list[str]:
    """Shell words of the command before its first pipe (quotes removed; a bad quote: plain split)."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars="|;&")
        lexer.whitespace_split = True
        lexer.commenters = ""
        words = list(lexer)
    except ValueError:
        words = text.split()
    for index, word in enumerate(words):
        if word and set(word) <= set("|;&"):
            return words[:index]
    return words


_VALUE_FLAGS = {"-n", "--namespace", "-l", "--selector", "-o", "--output", "-c", "--container", "--context",
                "--kubeconfig", "--sort-by", "--tail", "--since"}


def positional(args: list[str]) -> list[str]:
    """kubectl's positional words (verb, resource, name): flags and the values they take left out."""
    out: list[str] = []
    skip = False
    for word in args:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in _VALUE_FLAGS
        else:
            out.append(word)
    return out


def classify(text: str, words: list[str] | None = None) -> Tool:
    """The tool a command line runs: its first word (PromQL has none of its own)."""
    words = split(text) if words is None else words
    first = words[0] if words else ""
    if first == "kubectl":
        return Tool.kubectl
    if first == "curl":
        return Tool.curl
    if first in ("open", "xdg-open"):
        return Tool.open
    if first == "pd-alert":
        return Tool.pager
    if first == "gh" and len(words) > 1 and words[1] == "issue":
        return Tool.tracker
    if re.match(r"^/[a-z][\w-]*$", first):
        return Tool.chat
    if is_promql(text):
        return Tool.promql
    return Tool.other


def is_promql(text: str) -> bool:
    stripped = text.strip()
    call = _PROMQL_CALL.match(stripped)
    if call:
        return call.group(1) in PROMQL_FUNCTIONS
    return bool(_PROMQL_SELECTOR.match(stripped))


def _kubectl_long_running(words: list[str]) -> bool:
    verbs = positional(words[1:])
    if "port-forward" in verbs[:1]:
        return True
    if any(w in ("-w", "--watch", "--watch-only") or w.startswith("--watch=") for w in words):
        return True
    follows = any(w in ("-f", "--follow") or w == "--follow=true" for w in words)
    return follows and bool(verbs) and verbs[0] in ("logs", "attach")  # -f is a file for apply/delete


def _is_shell(token: Token) -> bool:
    info = token.info.strip().split()[0].lower() if token.info.strip() else ""
    if info:
        return info in SHELL_INFOS
    lines = [text for _, text in _joined(token.content) if text and not text.startswith("#")]
    return bool(lines) and all(text.split()[0] in KNOWN_PROGRAMS for text in lines)


def _joined(content: str) -> list[tuple[int, str]]:
    """(offset of the first line, text) per logical line: ``\\``-continued lines joined with one space."""
    out: list[tuple[int, str]] = []
    parts: list[str] = []
    start = 0
    for offset, raw in enumerate(content.splitlines()):
        stripped = raw.strip()
        if not parts:
            start = offset
        if stripped.endswith("\\") and not stripped.startswith("#"):
            parts.append(stripped[:-1].strip())
            continue
        parts.append(stripped)
        out.append((start, " ".join(p for p in parts if p)))
        parts = []
    if parts:
        out.append((start, " ".join(p for p in parts if p)))
    return out


def _command_lines(token: Token) -> list[tuple[int, str]]:
    """(1-based line, text) of every command in a fence: comments and blank lines skipped."""
    first = (token.map[0] + 2) if token.map else 1  # map[0] is the opening ``` line (0-based)
    return [(first + offset, text) for offset, text in _joined(token.content) if text and not text.startswith("#")]

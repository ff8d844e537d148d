"""A section tree over markdown-it tokens, so the parser asks "the table under heading X" instead of
running regexes across the whole file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import ftfy
from markdown_it import MarkdownIt
from markdown_it.token import Token

_MD = MarkdownIt("commonmark").enable("table")


def repair(text: str) -> str:
    """Undo mojibake (UTF-8 read as cp1252: ``â†’`` for ``→``) the way real runbooks arrive."""
    return ftfy.fix_text(text)


def inline_text(token: Token) -> str:
    """Plain text of an inline token: emphasis markers dropped, code spans kept."""
    if not token.children:
        return token.content.strip()
    parts: list[str] = []
    for child in token.children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts).strip()


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    def column(self, *names: str) -> int | None:
        """Index of the first header cell matching any of ``names`` (case-insensitive substring)."""
        for index, cell in enumerate(self.header):
            if any(name.lower() in cell.lower() for name in names):
                return index
        return None


@dataclass
class ListItem:
    text: str
    children: list[ListItem] = field(default_factory=list)


@dataclass
class Section:
    level: int
    title: str
    tokens: list[Token] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)

    def walk(self) -> list[Section]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    def all_tokens(self) -> list[Token]:
        """Tokens of this section and every subsection, in document order."""
        out = list(self.tokens)
        for child in self.children:
            out.extend(child.all_tokens())
        return out

    def find(self, pattern: str) -> Section | None:
        """First section (depth-first, this one included) whose title matches the regex."""
        regex = re.compile(pattern, re.IGNORECASE)
        for section in self.walk():
            if regex.search(section.title):
                return section
        return None

    def tables(self) -> list[Table]:
        return tables_in(self.all_tokens())

    def fences(self, info: str | None = None) -> list[tuple[str, str]]:
        """(info, content) of fenced code blocks, optionally only those with the given info string."""
        return [
            (t.info.strip(), t.content)
            for t in self.all_tokens()
            if t.type == "fence" and (info is None or t.info.strip() == info)
        ]

    def paragraphs(self) -> list[str]:
        toks = self.all_tokens()
        return [inline_text(toks[i + 1]) for i, t in enumerate(toks) if t.type == "paragraph_open"]

    def lists(self) -> list[list[ListItem]]:
        """Top-level lists of this section (nested lists become item children)."""
        return lists_in(self.all_tokens())

    def lists_after(self, label: str) -> list[ListItem]:
        """The list right after a paragraph whose text starts with ``label`` ("Checklist", ...)."""
        toks = self.all_tokens()
        for i, tok in enumerate(toks):
            if tok.type == "paragraph_open" and inline_text(toks[i + 1]).lower().startswith(label.lower()):
                rest = toks[i + 3 :]
                if rest and rest[0].type in ("bullet_list_open", "ordered_list_open"):
                    found = lists_in(rest)
                    return found[0] if found else []
        return []


def parse_sections(text: str) -> Section:
    """Root section (level 0) holding the document's heading tree."""
    tokens = _MD.parse(text)
    root = Section(0, "")
    stack = [root]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            section = Section(level, inline_text(tokens[i + 1]))
            while stack[-1].level >= level:
                stack.pop()
            stack[-1].children.append(section)
            stack.append(section)
            i += 3
            continue
        stack[-1].tokens.append(tok)
        i += 1
    return root


def tables_in(tokens: list[Token]) -> list[Table]:
    tables: list[Table] = []
    header: list[str] = []
    rows: list[list[str]] = []
    row: list[str] = []
    in_head = False
    for i, tok in enumerate(tokens):
        if tok.type == "table_open":
            header, rows = [], []
        elif tok.type == "thead_open":
            in_head = True
        elif tok.type == "thead_close":
            in_head = False
        elif tok.type == "tr_open":
            row = []
        elif tok.type in ("th_open", "td_open"):
            row.append(inline_text(tokens[i + 1]))
        elif tok.type == "tr_close":
            if in_head:
                header = row
            else:
                rows.append(row)
        elif tok.type == "table_close":
            tables.append(Table(header, rows))
    return tables


def lists_in(tokens: list[Token]) -> list[list[ListItem]]:
    out: list[list[ListItem]] = []
    stack: list[list[ListItem]] = []
    item_stack: list[ListItem] = []
    for tok in tokens:
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            new: list[ListItem] = []
            if item_stack:
                item_stack[-1].children = new
            else:
                out.append(new)
            stack.append(new)
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            stack.pop()
        elif tok.type == "list_item_open":
            item = ListItem("")
            stack[-1].append(item)
            item_stack.append(item)
        elif tok.type == "list_item_close":
            item_stack.pop()
        elif tok.type == "inline" and item_stack and not item_stack[-1].text:
            item_stack[-1].text = inline_text(tok)
    return out

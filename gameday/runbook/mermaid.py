"""Parse the runbook's ``mermaid`` flowchart into nodes and labelled edges.

Mermaid is its own small grammar, so a statement-level tokenizer is the right tool here
(the markdown around it is parsed by markdown-it).
"""

from __future__ import annotations

import re

from gameday.runbook.model import Workflow, WorkflowEdge, WorkflowNode

_NODE = re.compile(
    r"(?P<id>[A-Za-z0-9_]+)\s*"
    r"(?P<shape>\[\[.*?\]\]|\[\(.*?\)\]|\(\[.*?\]\)|\(\(.*?\)\)|\{\{.*?\}\}|\[.*?\]|\(.*?\)|\{.*?\}|>.*?\])?"
)
_ARROW = re.compile(r"\s*(?P<arrow>-->|---|-\.->|==>|--[ox]|-\.-)\s*(?:\|(?P<label>[^|]*)\|)?\s*")
_TEXT_ARROW = re.compile(r"\s*--\s*(?P<label>[^-|>][^>]*?)\s*-->\s*")
_HEADER = re.compile(r"^(graph|flowchart)\s+(TD|TB|BT|RL|LR)\s*$", re.IGNORECASE)


class MermaidError(ValueError):
    """A line of the flowchart we cannot read; the message names the line."""


def _strip_shape(shape: str) -> tuple[str, str]:
    kind = "decision" if shape.startswith("{") else "step"
    if shape.startswith("((") or shape.startswith("(["):
        kind = "terminal"
    label = shape.strip("[](){}>").strip().strip('"')
    return label, kind


def parse_flowchart(source: str) -> Workflow:
    nodes: dict[str, WorkflowNode] = {}
    edges: list[WorkflowEdge] = []
    direction = "TD"

    def node_at(text: str, pos: int, line_no: int) -> tuple[str, int]:
        match = _NODE.match(text, pos)
        if not match:
            raise MermaidError(f"line {line_no}: expected a node at {text[pos:]!r}")
        node_id = match["id"]
        if match["shape"]:
            label, kind = _strip_shape(match["shape"])
            existing = nodes.get(node_id)
            if existing and existing.label != label:
                raise MermaidError(f"line {line_no}: node {node_id} relabelled {existing.label!r} -> {label!r}")
            nodes[node_id] = WorkflowNode(id=node_id, label=label, kind=kind)
        elif node_id not in nodes:
            nodes[node_id] = WorkflowNode(id=node_id, label=node_id, kind="step")
        return node_id, match.end()

    lines = [ln.strip() for ln in source.splitlines()]
    for line_no, line in enumerate(lines, start=1):
        if not line or line.startswith("%%"):
            continue
        header = _HEADER.match(line)
        if header:
            direction = header.group(2).upper()
            continue
        if re.match(r"^(classDef|class|style|linkStyle|click|subgraph|end)\b", line):
            continue
        source_id, pos = node_at(line, 0, line_no)
        saw_edge = False
        while pos < len(line):
            arrow = _ARROW.match(line, pos) or _TEXT_ARROW.match(line, pos)
            if not arrow:
                raise MermaidError(f"line {line_no}: cannot read {line[pos:]!r}")
            label = (arrow.groupdict().get("label") or "").strip() or None
            target_id, pos = node_at(line, arrow.end(), line_no)
            edges.append(WorkflowEdge(source=source_id, target=target_id, label=label))
            source_id = target_id
            saw_edge = True
            pos = len(line) if not line[pos:].strip() else pos
        if not saw_edge and source_id not in nodes:
            raise MermaidError(f"line {line_no}: a statement with neither node shape nor edge")
    if not nodes:
        raise MermaidError("the flowchart has no nodes")
    return Workflow(direction=direction, nodes=list(nodes.values()), edges=edges)

"""YAML and JSON from files radiovae did not write, read with bounds.

``yaml.safe_load`` never runs code, but it happily builds an alias bomb (a few lines that expand
to 10^9 nodes once anything walks them: repr, deepcopy, json) and recurses on deep nesting. The
loader here refuses both while parsing: nesting deeper than ``MAX_DEPTH``, more than ``MAX_NODES``
nodes once aliases are expanded, recursive aliases and files over ``MAX_BYTES``. Errors are one
line and quote at most a short excerpt, never a whole value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from radiovae.errors import UserError

MAX_DEPTH = 100              # nesting levels (configs use < 10)
MAX_NODES = 1_000_000        # nodes after alias expansion (RadioDiff's config has ~100)
MAX_BYTES = 16 << 20         # a config or evaluation file larger than this is not one


class LimitError(yaml.YAMLError):
    """The document is beyond the loader's bounds (depth, expanded size, recursion)."""


class BoundedSafeLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses deep nesting and alias expansion beyond the bounds."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:   # noqa: D102 (PyYAML hook)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise LimitError(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:   # noqa: D102 (PyYAML hook)
        node = super().compose_document()
        _check_expanded_size(node)
        return node


def _check_expanded_size(root: Any) -> None:
    """Nodes in the document once every alias is expanded (aliases share the anchor's node)."""
    size: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            if size[key] > MAX_NODES:
                raise LimitError(f"more than {MAX_NODES:,} values once its aliases are expanded "
                                 f"(an alias bomb?)")
            continue
        if key in size:
            continue
        if key in active:
            raise LimitError("an alias refers to a value that contains it (a recursive alias)")
        active.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for pair in node.value for x in pair]
    return []


def _read_text(path: Path, what: str) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise UserError(f"{path}: {size / 2**20:.0f} MiB is too large for a {what} "
                            f"(limit {MAX_BYTES >> 20} MiB)")
        data = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    return data.decode("utf-8-sig", "replace")


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """Parse a YAML file within the bounds; UserError (one line) when it cannot."""
    path = Path(path)
    return loads_yaml(_read_text(path, what), str(path))


def loads_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=BoundedSafeLoader)   # noqa: S506 (a SafeLoader subclass)
    except LimitError as e:
        raise UserError(f"{source}: refused: {e}") from None
    except yaml.YAMLError as e:
        raise UserError(f"{source}: not valid YAML ({_one_line(e)})") from None
    except RecursionError:
        raise UserError(f"{source}: refused: nested too deep") from None


def load_json(path: str | Path, what: str = "JSON file") -> Any:
    """Parse a JSON file within the bounds; UserError (one line) when it cannot."""
    path = Path(path)
    text = _read_text(path, what)
    try:
        value = json.loads(text)
    except RecursionError:
        raise UserError(f"{path}: refused: nested too deep") from None
    except ValueError as e:
        raise UserError(f"{path}: not valid JSON ({_one_line(e)})") from None
    if _depth_over(value, MAX_DEPTH):
        raise UserError(f"{path}: refused: nested deeper than {MAX_DEPTH} levels")
    return value


def _depth_over(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if d > limit:
            return True
        if isinstance(v, dict):
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, d + 1) for x in v)
    return False


def _one_line(e: Exception) -> str:
    """An error's first line, cut short (PyYAML's messages quote the document over lines)."""
    if isinstance(e, yaml.MarkedYAMLError) and e.problem:
        where = f" at line {e.problem_mark.line + 1}" if e.problem_mark else ""
        text = f"{e.problem}{where}"
    else:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text if len(text) <= 120 else text[:119] + "…"

"""Reads YAML into nodes that remember their line, raw text and quoting, so checks can cite lines and catch YAML 1.1 traps."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from segsync.errors import Problem


@dataclass
class Node:
    """One YAML value: mappings hold dict[str, Node], sequences list[Node], scalars the value PyYAML resolved."""

    value: Any
    line: int
    path: str
    raw: str | None = None  # the scalar's characters as written
    plain: bool = False  # an unquoted scalar (where YAML 1.1 guesses the type)
    key_lines: dict[str, int] = field(default_factory=dict)

    @property
    def is_mapping(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_sequence(self) -> bool:
        return isinstance(self.value, list)

    @property
    def is_scalar(self) -> bool:
        return not (self.is_mapping or self.is_sequence)

    def get(self, key: str) -> Node | None:
        return self.value.get(key) if self.is_mapping else None

    def plain_python(self) -> Any:
        """The whole subtree as plain Python values (for pass-through sections such as destinations)."""
        if self.is_mapping:
            return {k: v.plain_python() for k, v in self.value.items()}
        if self.is_sequence:
            return [v.plain_python() for v in self.value]
        return self.value


def join_path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


_constructor = yaml.constructor.SafeConstructor()


def _convert(node: yaml.Node, path: str, file: str, problems: list[Problem]) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        items: dict[str, Node] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(file, "a key must be a plain word", line=key_line, path=path or None,
                                        expected="a scalar key such as `field:`"))
                continue
            key = key_node.value
            if key in items:
                problems.append(Problem(file, f"duplicate key '{key}' (first at line {key_lines[key]})",
                                        line=key_line, path=join_path(path, key),
                                        expected="each key once per mapping"))
                continue
            key_lines[key] = key_line
            items[key] = _convert(value_node, join_path(path, key), file, problems)
        return Node(items, line, path, key_lines=key_lines)
    if isinstance(node, yaml.SequenceNode):
        return Node([_convert(child, join_path(path, i), file, problems) for i, child in enumerate(node.value)],
                    line, path)
    value = _constructor.construct_object(node, deep=True)
    return Node(value, line, path, raw=node.value, plain=node.style is None)


def read_yaml(text: str, file: str) -> tuple[Node | None, list[Problem]]:
    """Parse one document; syntax errors become a Problem with the line PyYAML points at."""
    problems: list[Problem] = []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return None, [Problem(file, f"not valid YAML: {exc.problem}", line=mark.line + 1 if mark else None,
                              expected="well-formed YAML (check indentation and quotes)")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, f"not valid YAML: {exc}")]
    if root is None:
        return None, [Problem(file, "the file is empty", expected="a segment definition (name, description, where)")]
    try:
        return _convert(root, "", file, problems), problems
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        return None, [Problem(file, f"not valid YAML: {exc.problem}", line=mark.line + 1 if mark else None)]


def key_positions(node: Node) -> dict[str, int]:
    """Every mapping key of a tree by its key path ("destinations.hubspot", "priority.rank") -> its line."""
    found: dict[str, int] = {}
    if node.is_mapping:
        for key, child in node.value.items():
            found[join_path(node.path, key)] = node.key_lines[key]
            found.update(key_positions(child))
    elif node.is_sequence:
        for child in node.value:
            found.update(key_positions(child))
    return found

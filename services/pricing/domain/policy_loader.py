"""Load a policy from YAML, reporting every problem with its field path and line.

Decimal literals are read as `Decimal` from their text (never through float), so that
`0.10` in the file is exactly 0.10 in the policy. Problems found by pydantic or by the
policy's consistency checks are mapped back to lines through the composed YAML nodes.
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.pricing.domain.errors import PolicyError, PolicyIssue
from services.pricing.domain.policy import Location, Policy, PolicyInconsistent, format_location

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent / "policies" / "default.yaml"


class _DecimalLoader(yaml.SafeLoader):
    """Safe YAML loader that reads floats as exact Decimals."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    assert isinstance(node, yaml.ScalarNode)
    text = str(node.value).replace("_", "")
    try:
        return Decimal(text)
    except InvalidOperation:  # .inf, .nan and sexagesimal forms
        return loader.construct_yaml_float(node)


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def load_policy(source: str | os.PathLike[str]) -> Policy:
    """Parse and validate a policy; `source` is YAML text (str) or a file path (PathLike).

    Raises PolicyError listing (field_path, line, message) for each problem.
    """
    text = Path(source).read_text(encoding="utf-8") if isinstance(source, os.PathLike) else source
    root, data = _parse(text)
    if not isinstance(data, dict):
        raise PolicyError(
            [
                PolicyIssue(
                    "",
                    root.start_mark.line + 1,
                    "a policy is a YAML mapping (to load a file, pass a pathlib.Path)",
                )
            ]
        )
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise PolicyError(
            [_issue(root, tuple(e["loc"]), e["msg"]) for e in error.errors()]
        ) from None
    except PolicyInconsistent as error:
        raise PolicyError([_issue(root, loc, message) for loc, message in error.located]) from None


def load_default_policy() -> Policy:
    """The policy shipped with the service (services/pricing/policies/default.yaml)."""
    return load_policy(DEFAULT_POLICY_PATH)


def _parse(text: str) -> tuple[yaml.Node, object]:
    loader = _DecimalLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise PolicyError([PolicyIssue("", 1, "the policy document is empty")])
        duplicates = _duplicate_keys(root)
        if duplicates:
            raise PolicyError(duplicates)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        raise PolicyError([PolicyIssue("", line, f"not valid YAML: {error.problem}")]) from None
    finally:
        loader.dispose()
    return root, data


def _duplicate_keys(node: yaml.Node, path: Location = ()) -> list[PolicyIssue]:
    issues: list[PolicyIssue] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                issues.append(
                    PolicyIssue(
                        format_location((*path, name)),
                        key.start_mark.line + 1,
                        "key appears twice in the same mapping",
                    )
                )
            seen.add(name)
            issues.extend(_duplicate_keys(value, (*path, name)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            issues.extend(_duplicate_keys(item, (*path, index)))
    return issues


def _issue(root: yaml.Node, loc: Location, message: str) -> PolicyIssue:
    """Find the node a pydantic location points at; name the field and its line.

    Location parts that match nothing in the file (union tags, '[key]' markers, a missing
    field) are skipped for the line, which is then the deepest field that does exist.
    """
    node = root
    line = root.start_mark.line + 1
    matched: list[str | int] = []
    missing: list[str | int] = []
    for part in loc:
        child, child_line = _child(node, part)
        if child is None:
            if part != "[key]":
                missing.append(part)
            continue
        missing = []  # parts skipped before a match were union tags, not fields
        matched.append(part)
        node, line = child, child_line
    return PolicyIssue(format_location((*matched, *missing)), line, message)


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node | None, int]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return value, key.start_mark.line + 1
    elif (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        item: yaml.Node = node.value[part]
        return item, item.start_mark.line + 1
    return None, 0

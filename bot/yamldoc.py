"""Load a YAML data file into a pydantic model, with errors that name the file and line.

Operators edit catalog.yaml, freezes.yaml and venues.yaml by hand; when one is wrong the bot must
say `catalog.yaml:42: services.order-gateway.tier: Input should be 1, 2 or 3` at start-up, not a
pydantic traceback. PyYAML's node tree keeps line marks, so a validation error's location is
walked down that tree to the line of the offending value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError


class DataFileError(ValueError):
    """A data file is unreadable or invalid; the message is `file:line: where: what`."""


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """1-based line of the node at `loc` (or of its deepest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is None:
                # a missing field: report the mapping that lacks it
                return line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
        else:
            return line
        line = node.start_mark.line + 1
    return line


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse `path` into plain data plus the node tree used to find lines later."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise DataFileError(f"{where}: invalid YAML: {problem}") from None
    return data, node


def validate[M: BaseModel](
    model: type[M], data: Any, node: yaml.Node | None, path: Path, context: dict[str, Any] | None
) -> M:
    """Validate `data` as `model`, turning the first error into one `file:line: ...` line."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = _line_of(node, loc)
        where = ".".join(str(p) for p in loc) or "document"
        prefix = f"{path}:{line}" if line is not None else str(path)
        raise DataFileError(f"{prefix}: {where}: {err['msg']}") from None


def load_model[M: BaseModel](
    model: type[M], path: Path, context: dict[str, Any] | None = None
) -> M:
    """Read and validate one YAML file; an empty file validates as an empty mapping."""
    data, node = read_yaml(path)
    return validate(model, {} if data is None else data, node, path, context)


def error_at(
    path: Path, node: yaml.Node | None, loc: tuple[int | str, ...], msg: str
) -> DataFileError:
    """A `file:line: where: msg` error for a check made after validation (cross-references)."""
    line = _line_of(node, loc)
    prefix = f"{path}:{line}" if line is not None else str(path)
    return DataFileError(f"{prefix}: {'.'.join(str(p) for p in loc)}: {msg}")

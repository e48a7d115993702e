"""Option strings shared by variants and modifiers: 'key=value,...' parsed, checked against the
owner's defaults, converted to each default's type, and printed back ('5e+06', 'True', '[2,3,3]').

A list value is written in brackets, as upstream's keyword arguments take it:
``mhrope:mrope_section=[2,3,3],num_key_value_heads=8`` (commas inside brackets do not split)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from niah.errors import NiahError


def parse_options(text: str, where: str) -> dict[str, str]:
    """'a=1,b=x' → {'a': '1', 'b': 'x'}; `where` names the owner in the error, e.g. "variant 'v:a'"."""
    options: dict[str, str] = {}
    for item in filter(None, (o.strip() for o in split_top_level(text))):
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise NiahError(f"malformed option '{item}' in {where}: write key=value")
        options[key.strip()] = value.strip()
    return options


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """`text` split at `separator`, except inside [...]: 'a=[1,2],b=3' → ['a=[1,2]', 'b=3']."""
    pieces, depth, current = [], 0, []
    for char in text:
        depth += (char == "[") - (char == "]")
        if char == separator and depth == 0:
            pieces.append("".join(current))
            current = []
        else:
            current.append(char)
    pieces.append("".join(current))
    return pieces


def resolve_options(owner: str, label: str, raw: Mapping[str, str], defaults: Mapping[str, Any],
                    choices: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, Any]:  # fmt: skip
    """Every option's value: the defaults, with `raw` converted over them. `owner` names it in the
    unknown-option error ("variant 'videorope'"), `label` in the value errors ("'videorope'")."""
    for key in raw:
        if key not in defaults:
            raise NiahError(f"unknown option '{key}' for {owner} (options: {', '.join(defaults) or 'none'})")
    values = dict(defaults)
    for key, text in raw.items():
        values[key] = convert(label, key, text, defaults[key], (choices or {}).get(key))
    return values


def fmt(value: Any) -> str:
    """A value as an option string: floats in their shortest form (2.0 → '2', 5e6 → '5e+06'),
    lists in brackets ((2, 3, 3) → '[2,3,3]')."""
    if isinstance(value, tuple):
        return "[" + ",".join(fmt(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def convert(label: str, key: str, raw: str, default: Any, choices: tuple[str, ...] | None) -> Any:
    """`raw` as the type of `default` (one of `choices` when given); NiahError naming `label`."""
    if choices is not None:
        if raw not in choices:
            raise NiahError(f"option {key}='{raw}' of {label} must be one of {', '.join(choices)}")
        return raw
    if isinstance(default, bool):
        if raw.lower() not in ("true", "false"):
            raise NiahError(f"option {key}='{raw}' of {label} must be true or false")
        return raw.lower() == "true"
    if isinstance(default, tuple):
        return _convert_list(label, key, raw, default)
    try:
        value = type(default)(raw)
    except ValueError:
        raise NiahError(f"option {key}='{raw}' of {label} must be a {type(default).__name__}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise NiahError(f"option {key}='{raw}' of {label} must be a finite number")
    return value


def _convert_list(label: str, key: str, raw: str, default: tuple) -> tuple:
    """'[2,3,3]' as a tuple of as many values as `default`, each of its first value's type."""
    items = raw[1:-1].split(",") if raw.startswith("[") and raw.endswith("]") else None
    example = fmt(default)
    if items is None or len(items) != len(default):
        raise NiahError(f"option {key}='{raw}' of {label} must be a list of {len(default)} numbers, e.g. {example}")
    try:
        values = tuple(type(default[0])(v.strip()) for v in items)
    except ValueError:
        raise NiahError(f"option {key}='{raw}' of {label} must be a list of {type(default[0]).__name__}s, "
                        f"e.g. {example}") from None  # fmt: skip
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise NiahError(f"option {key}='{raw}' of {label} must be a list of finite numbers, e.g. {example}")
    return values

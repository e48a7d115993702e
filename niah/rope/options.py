"""Option strings shared by variants and modifiers: 'key=value,...' parsed, checked against the
owner's defaults, converted to each default's type, and printed back ('5e+06', 'True')."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from niah.errors import NiahError


def parse_options(text: str, where: str) -> dict[str, str]:
    """'a=1,b=x' → {'a': '1', 'b': 'x'}; `where` names the owner in the error, e.g. "variant 'v:a'"."""
    options: dict[str, str] = {}
    for item in filter(None, (o.strip() for o in text.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key or not value:
            raise NiahError(f"malformed option '{item}' in {where}: write key=value")
        options[key.strip()] = value.strip()
    return options


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
    """A value as an option string: floats in their shortest form (2.0 → '2', 5e6 → '5e+06')."""
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
    try:
        return type(default)(raw)
    except ValueError:
        raise NiahError(f"option {key}='{raw}' of {label} must be a {type(default).__name__}") from None

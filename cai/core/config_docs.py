"""Documentation generated from the stage config models: the `--help` key listing
(`describe_fields`) and `cai config template` (`template_for`). Kept apart from cai.core.configs so
that module holds the schema and its loading only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from cai.core.yamlfile import model_in


def describe_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, description) for every leaf field, for `--help` and templates."""
    rows = []
    for name, f in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = model_in(f.annotation)
        if nested is not None and not _is_list(f.annotation):
            rows += describe_fields(nested, key + ".")
            continue
        default = "required" if f.is_required() else _show_default(f.get_default(call_default_factory=True))
        rows.append((key, default, f.description or ""))
    return rows


def _is_list(annotation: Any) -> bool:
    return getattr(annotation, "__origin__", None) is list


def _show_default(value: Any) -> str:
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Path):
        value = str(value)
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _optional_sections(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Dotted keys of the sections that are off unless given (`drafter: null` by default)."""
    out = set()
    for name, f in model.model_fields.items():
        nested = model_in(f.annotation)
        if nested is None or _is_list(f.annotation):
            continue
        if not f.is_required() and f.get_default(call_default_factory=True) is None:
            out.add(f"{prefix}{name}")
        out |= _optional_sections(nested, f"{prefix}{name}.")
    return out


def template_for(model: type[BaseModel]) -> str:
    """A documented YAML config for a stage's `model`, every key commented with its description. An
    optional section (off by default) is written commented out: its keys' defaults alone would not
    make a valid section (the drafter needs a model), and leaving it out keeps it off."""
    lines = [f"# {model.__doc__.strip().splitlines()[0]}"]
    optional = _optional_sections(model)
    open_sections: list[str] = []
    for key, default, desc in describe_fields(model):
        *sections, leaf = key.split(".")
        off = next((o for o in optional if key.startswith(o + ".")), None)
        hash_ = "# " if off else ""
        common = 0
        while common < min(len(sections), len(open_sections)) and sections[common] == open_sections[common]:
            common += 1
        for depth in range(common, len(sections)):
            header = ".".join(sections[: depth + 1])
            note = "  # optional: uncomment to use" if header in optional else ""
            lines.append(f"{hash_}{'  ' * depth}{sections[depth]}:{note}")
        open_sections = sections
        indent = "  " * len(sections)
        value = "" if default == "required" else f" {default}"
        note = "  (required)" if default == "required" else ""
        lines.append(f"{hash_}{indent}# {desc}{note}")
        lines.append(f"{hash_}{indent}{leaf}:{value}")
    return "\n".join(lines) + "\n"

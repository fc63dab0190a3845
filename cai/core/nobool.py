"""Booleans are not numbers in cai's YAML files.

Why: pydantic's lax mode takes `true` as 1 for an int or float field, so `max_rounds: true` or
`weight: yes` (YAML 1.1 reads `yes` as a boolean) would run quietly as 1. Strict types would also
refuse what users mean (`1e-5` typed as a string by an override, a Path given as text), so this
refuses exactly one thing: a boolean where the field's annotation does not allow one.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ValidationInfo, field_validator


def _accepts(annotation: Any, kinds: tuple[type, ...]) -> bool:
    """Whether `annotation` takes a bare value of one of `kinds`: the type itself, a Literal of one,
    or a union with either. Containers (`list[bool]`) take lists, never a bare value."""
    if annotation is Any or (isinstance(annotation, type) and issubclass(annotation, kinds)):
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return any(isinstance(a, kinds) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(a, kinds) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _accepts(typing.get_args(annotation)[0], kinds)
    return False


def allows_bool(annotation: Any) -> bool:
    return _accepts(annotation, (bool,))


def refuse_bool(value: Any) -> Any:
    """A BeforeValidator for numbers inside containers (e.g. the values of a cost table)."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean (true/false/yes/no)")
    return value


class NoBoolNumbers(BaseModel):
    """Base of the config and constitution sections: a boolean given to a non-boolean field is an
    error, not 1 or 0."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool(cls, value: Any, info: ValidationInfo) -> Any:
        field = cls.model_fields.get(info.field_name or "")
        if isinstance(value, bool) and field is not None and not allows_bool(field.annotation):
            wanted = "a number" if _accepts(field.annotation, (int, float)) else "text"
            raise ValueError(f"expected {wanted}, got a boolean (true/false/yes/no)")
        return value

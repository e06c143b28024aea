"""Declaring a parameter once: type, default, bounds, unit and source.

Every tunable number in the model is a pydantic field made with :func:`param`, so the
bounds are enforced when a scenario is loaded, and ``sim list`` and ``docs/ODD.md`` can
show the unit and the source next to the value.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Strict(BaseModel):
    """Base of every configuration block: unknown keys are errors, values are validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        """YAML's true/false are not numbers. Where an int or a float is expected, hand the field
        the word instead, so that its own validation refuses it with the field's path."""
        if isinstance(data, dict):
            bad = {name for name, field in cls.model_fields.items()
                   if (field.annotation in (int, float) or {int, float} & set(get_args(field.annotation)))
                   and isinstance(data.get(name), bool)}
            if bad:
                data = {k: (str(v).lower() if k in bad else v) for k, v in data.items()}
        return data


def param(
    default: Any,
    *,
    unit: str,
    doc: str,
    ge: float | None = None,
    le: float | None = None,
    gt: float | None = None,
    lt: float | None = None,
) -> Any:
    """A model parameter with its bounds, unit and one-line meaning (with source)."""
    return Field(
        default,
        ge=ge,
        le=le,
        gt=gt,
        lt=lt,
        allow_inf_nan=False,
        description=doc,
        json_schema_extra={"unit": unit},
    )


def describe(model: type[BaseModel]) -> list[tuple[str, Any, str, str]]:
    """(name, default, unit, description) for each field of a parameter block."""
    rows = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        rows.append((name, field.default, str(extra.get("unit", "")), field.description or ""))
    return rows

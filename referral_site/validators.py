"""Validation shared by the models of schema.md."""

from django.core.validators import MinValueValidator


def non_negative(label: str) -> MinValueValidator:
    return MinValueValidator(0, message=f"{label} cannot be negative.")


def strip_fields(instance, *field_names: str) -> None:
    """Trim the given string fields in place (schema.md: "trimmed string").

    A value that is only whitespace becomes empty and is then rejected as
    required by the field's own validation.
    """
    for name in field_names:
        value = getattr(instance, name)
        if isinstance(value, str):
            setattr(instance, name, value.strip())

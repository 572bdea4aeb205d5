"""Validation shared by the models of schema.md."""

import unicodedata

from django.core.exceptions import ValidationError
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


def no_control_characters(value: str) -> None:
    """Refuse line breaks, tabs, NUL and other control characters (Unicode category Cc).

    A name goes into e-mail headers and CSV files: a CR/LF in it made the
    referral-reward e-mail fail silently.
    """
    if any(unicodedata.category(ch) == "Cc" for ch in value or ""):
        raise ValidationError(
            "Use letters, digits, spaces and punctuation only (no line breaks or control "
            "characters).",
            code="control_characters",
        )

"""One domain error base class; a subclass per broken rule (STYLE.md)."""


class ApplicationError(Exception):
    """A business rule was broken. ``message`` is safe to show to the user."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field

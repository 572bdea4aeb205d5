"""One domain error base class; a subclass per broken rule (STYLE.md)."""


class ApplicationError(Exception):
    """A business rule was broken. ``message`` is safe to show to the user.

    ``field`` names the form field it belongs to (None: the whole form);
    ``errors`` maps several fields to their messages when more than one is wrong.
    """

    def __init__(
        self, message: str, *, field: str | None = None, errors: dict[str, str] | None = None
    ):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors or {field: message}

    def add_to_form(self, form) -> None:
        """Show the error on ``form``: on its fields where it has them, else on the form."""
        for field, message in self.errors.items():
            form.add_error(field if field in form.fields else None, message)

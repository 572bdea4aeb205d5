"""Form widgets that write their HTML directly instead of through templates.

Django renders every widget through the form renderer's templates: an input
is a template and an include for its attributes, a select one more include per
option. On the catalog's filters and the checkout that was most of the page's
own time. These widgets build the same HTML (same attributes, same order, same
escaping: tests/foundation/test_widgets.py compares them with Django's) in
Python, from the same ``get_context()``.
"""

from django import forms
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe


def _attrs(attrs: dict) -> str:
    """django/forms/widgets/attrs.html: True is a bare name, False is left out."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        if value is True:
            parts.append(f" {conditional_escape(name)}")
        else:
            parts.append(f' {conditional_escape(name)}="{conditional_escape(str(value))}"')
    return "".join(parts)


class _DirectInput:
    """django/forms/widgets/input.html."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        kind, name = conditional_escape(widget["type"]), conditional_escape(widget["name"])
        html = f'<input type="{kind}" name="{name}"'
        if widget["value"] is not None:
            html += f' value="{conditional_escape(str(widget["value"]))}"'
        return mark_safe(html + _attrs(widget["attrs"]) + ">")  # noqa: S308 - every part escaped


class TextInput(_DirectInput, forms.TextInput):
    pass


class NumberInput(_DirectInput, forms.NumberInput):
    pass


class HiddenInput(_DirectInput, forms.HiddenInput):
    pass


class Select(forms.Select):
    """django/forms/widgets/select.html and select_option.html."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        html = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                html.append(f'<optgroup label="{conditional_escape(group_name)}">')
            for option in options:
                html.append(
                    f'<option value="{conditional_escape(str(option["value"]))}"'
                    f"{_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>"
                )
            if group_name:
                html.append("</optgroup>")
        html.append("</select>")
        return mark_safe("".join(html))  # noqa: S308 - every part escaped

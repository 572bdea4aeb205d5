"""The direct widgets write exactly the HTML Django's widget templates write."""

import pytest
from django import forms
from django.test.html import parse_html

from referral_site import widgets

CASES = [
    (widgets.TextInput, forms.TextInput, {"type": "search", "maxlength": 100}, "clean <code>"),
    (widgets.TextInput, forms.TextInput, {"placeholder": 'say "hi" & go'}, None),
    (widgets.NumberInput, forms.NumberInput, {"step": "0.01", "min": "0"}, "9.99"),
    (widgets.HiddenInput, forms.HiddenInput, {"id": "payment-method"}, ""),
    (widgets.TextInput, forms.TextInput, {"required": True, "disabled": False}, "x"),
]


@pytest.mark.parametrize(("direct", "django_widget", "attrs", "value"), CASES)
def test_inputs_match_django(direct, django_widget, attrs, value):
    ours = direct(attrs=attrs).render("q", value, attrs={"id": "id_q"})
    theirs = django_widget(attrs=attrs).render("q", value, attrs={"id": "id_q"})
    assert parse_html(ours) == parse_html(theirs)
    assert "<code>" not in ours  # escaped, as the template escapes


@pytest.mark.parametrize("value", ["", "ebook", "<b>", None])
def test_select_matches_django(value):
    choices = [("", "All categories"), ("ebook", "Ebook"), ("<b>", "Bold & <b>"), ("x", "X")]
    grouped = [*choices, ("Media", [("a", "Audio"), ("v", "Video")])]
    for options in (choices, grouped):
        ours = widgets.Select(choices=options).render("category", value, attrs={"id": "id_c"})
        theirs = forms.Select(choices=options).render("category", value, attrs={"id": "id_c"})
        assert parse_html(ours) == parse_html(theirs)


def test_forms_in_use_render_the_same_as_with_django_widgets():
    from catalog.forms import ProductFilterForm

    form = ProductFilterForm({"q": "clean", "category": "course", "min_price": "5"})
    assert form.is_valid()
    for name in ("q", "category", "min_price", "max_price", "sort"):
        field = form.fields[name]
        assert type(field.widget).__module__ == "referral_site.widgets"
        bound = form[name]
        theirs = bound.as_widget(widget=_django_equivalent(field.widget))
        assert parse_html(str(bound)) == parse_html(theirs), name


def _django_equivalent(widget):
    """The same widget, as Django's own class, with the same attributes and choices."""
    for base in type(widget).__mro__[1:]:
        if base.__module__.startswith("django.forms"):
            clone = base(attrs=widget.attrs)
            if hasattr(widget, "choices"):
                clone.choices = widget.choices
            if hasattr(widget, "input_type"):
                clone.input_type = widget.input_type  # attrs' "type" was taken into it
            return clone
    raise AssertionError(f"no Django widget behind {type(widget)}")

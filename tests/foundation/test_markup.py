"""referral_site.markup.esc escapes exactly as the templates' autoescaping does."""

from decimal import Decimal

import pytest
from bson import ObjectId
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from referral_site.markup import esc, safe_join

VALUES = [
    "plain",
    '<script>alert("x")</script> & O\'Brien',
    mark_safe("<b>already safe</b>"),
    gettext_lazy("Credits & <rewards>"),
    42,
    Decimal("12.50"),
    None,
    ObjectId("65f0a1b2c3d4e5f601234567"),
    "",
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_esc_is_conditional_escape(value):
    assert esc(value) == str(conditional_escape(value))


def test_safe_join_marks_the_joined_parts_safe():
    joined = safe_join("\n", (f"<li>{esc(v)}</li>" for v in ["a<b", "c&d"]))
    assert joined == "<li>a&lt;b</li>\n<li>c&amp;d</li>"
    assert conditional_escape(joined) == joined  # not escaped a second time

"""Forms of the catalog: the browse filters, the admin's product form and change-category step."""

from decimal import Decimal

from django import forms

from catalog.models import Category, Product
from catalog.selectors import SORT_CHOICES, SORT_NEWEST
from catalog.services import product_cover_check, product_file_check
from referral_site import widgets
from referral_site.exceptions import ApplicationError

SEARCH_MAX_LENGTH = 100
PRICE_MAX = Decimal("99999999.99")  # the largest price the model's field holds


class ProductFilterForm(forms.Form):
    """The catalog's GET filters. Bad values never fail the page.

    After ``is_valid()``, ``filters()`` gives every filter with invalid values
    replaced by their defaults, and ``notices()`` says, in words for the
    visitor, what was ignored or corrected.
    """

    q = forms.CharField(
        label="Search titles and authors",
        required=False,
        widget=widgets.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Search titles",
                "autocomplete": "off",
                "maxlength": SEARCH_MAX_LENGTH,
            },
        ),
    )
    category = forms.ChoiceField(
        label="Category",
        required=False,
        choices=[("", "All categories"), *Category.choices],
        widget=widgets.Select,
    )
    min_price = forms.DecimalField(
        label="Minimum price",
        required=False,
        min_value=Decimal("0"),
        max_value=PRICE_MAX,
        decimal_places=2,
        widget=widgets.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    max_price = forms.DecimalField(
        label="Maximum price",
        required=False,
        min_value=Decimal("0"),
        max_value=PRICE_MAX,
        decimal_places=2,
        widget=widgets.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    sort = forms.ChoiceField(
        label="Sort by", required=False, choices=SORT_CHOICES, widget=widgets.Select
    )

    DEFAULTS = {"q": "", "category": "", "min_price": None, "max_price": None, "sort": SORT_NEWEST}
    FIELD_NOTICES = {
        "category": "Ignored the category: there is no such category.",
        "min_price": "Ignored the minimum price: enter an amount of 0 or more, like 9.99.",
        "max_price": "Ignored the maximum price: enter an amount of 0 or more, like 49.99.",
        "sort": "Ignored the sort order: showing the newest products first.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._corrections: list[str] = []

    def clean_q(self) -> str:
        # Collapse runs of spaces: "clean   code" and "clean code" are one search.
        q = " ".join(self.cleaned_data["q"].split())
        if len(q) > SEARCH_MAX_LENGTH:
            q = q[:SEARCH_MAX_LENGTH].rstrip()
            self._corrections.append(
                f"The search was shortened to its first {SEARCH_MAX_LENGTH} characters."
            )
        return q

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            cleaned["min_price"], cleaned["max_price"] = high, low
            self._corrections.append(
                "The minimum price was above the maximum, so the two were swapped."
            )
        return cleaned

    def filters(self) -> dict:
        cleaned = getattr(self, "cleaned_data", {})
        values = {}
        for name, default in self.DEFAULTS.items():
            value = cleaned.get(name)
            values[name] = default if value in (None, "") else value
        return values

    def notices(self) -> list[str]:
        ignored = [self.FIELD_NOTICES[name] for name in self.FIELD_NOTICES if name in self.errors]
        return ignored + self._corrections

    def showing_applied(self) -> "ProductFilterForm":
        """This form, now showing what is applied (ignored values gone), not what was typed.

        The page's one form: it is not built a second time just to display it.
        Call after ``is_valid()``, ``filters()`` and ``notices()``.
        """
        applied = self.filters()
        self.is_bound = False
        self.data = {}
        self.initial = applied
        self._bound_fields_cache.clear()
        return self


class ChangeCategoryForm(forms.Form):
    category = forms.ChoiceField(label="New category", choices=Category.choices)


class ProductAdminForm(forms.ModelForm):
    """The admin's product form, with the file and the cover uploaded alongside.

    The uploads are checked here by the services' own rules (so a bad one is a
    field error) and stored by the services after the product is saved.
    """

    upload_file = forms.FileField(
        label="Downloadable file",
        required=False,
        help_text="What buyers download. Replaces the current file.",
    )
    # A FileField, not an ImageField: product_cover_check is the one judge of images.
    upload_cover = forms.FileField(
        label="Cover image",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text="JPEG, PNG or WebP. Replaces the current cover; without one, the image URL "
        "below is shown.",
    )

    class Meta:
        model = Product
        fields = ["title", "author", "description", "price", "category", "image_url"]

    def _checked(self, name: str, check):
        """The upload, judged by the service's own rule (its refusal becomes a field error)."""
        upload = self.cleaned_data.get(name)
        if upload:
            try:
                check(upload)
            except ApplicationError as exc:
                raise forms.ValidationError(exc.message) from None
        return upload

    def clean_upload_file(self):
        return self._checked("upload_file", product_file_check)

    def clean_upload_cover(self):
        return self._checked("upload_cover", product_cover_check)

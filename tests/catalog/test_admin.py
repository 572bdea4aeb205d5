"""The catalog in the Django admin: who gets in, the list, validation, bulk category."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from catalog.models import Category, Product
from catalog.services import UnknownCategoryError, product_bulk_set_category

CHANGELIST = "/admin/catalog/product/"
ADD = "/admin/catalog/product/add/"
ANALYTICS = "/admin/catalog/product/analytics/"


def valid_product_form(**overrides) -> dict:
    return {
        "title": "Clean Code",
        "author": "Robert C. Martin",
        "description": "A handbook of agile software craftsmanship",
        "price": "32.99",
        "category": "ebook",
        "image_url": "",
        **overrides,
    }


# ---- access ----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/admin/", CHANGELIST, ANALYTICS])
def test_signed_out_visitors_are_sent_to_the_admin_login(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", ["/admin/", CHANGELIST, ANALYTICS])
def test_customers_who_are_not_staff_are_kept_out(client, user, url):
    client.force_login(user)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_permissions_cannot_see_analytics(client, user_factory):
    clerk = user_factory(is_staff=True)
    client.force_login(clerk)

    response = client.get(ANALYTICS)

    assert response.status_code == 403


def test_staff_with_product_and_purchase_view_rights_see_analytics(client, user_factory):
    analyst = user_factory(is_staff=True)
    analyst.user_permissions.add(
        Permission.objects.get(codename="view_product", content_type__app_label="catalog"),
        Permission.objects.get(codename="view_purchase", content_type__app_label="purchases"),
    )
    client.force_login(analyst)

    response = client.get(ANALYTICS)

    assert response.status_code == 200


def test_the_change_list_links_to_the_analytics(client, staff_user):
    client.force_login(staff_user)

    response = client.get(CHANGELIST)

    assert f'href="{ANALYTICS}"' in response.content.decode()


# ---- change list -------------------------------------------------------------


def test_change_list_shows_title_author_category_price_and_creation(
    client, staff_user, product_factory
):
    product_factory(title="Clean Code", author="Robert C. Martin", price=Decimal("32.99"))
    client.force_login(staff_user)

    response = client.get(CHANGELIST)

    html = response.content.decode()
    for column in (
        "column-title",
        "column-author",
        "column-category",
        "column-price",
        "column-created_at",
    ):
        assert column in html
    assert "Clean Code" in html and "Robert C. Martin" in html and "32.99" in html


def test_change_list_filters_by_category(client, staff_user, product_factory):
    product_factory(title="An Ebook", category=Category.EBOOK)
    product_factory(title="A Course", category=Category.COURSE)
    client.force_login(staff_user)

    response = client.get(CHANGELIST, {"category__exact": "course"})

    assert [p.title for p in response.context["cl"].result_list] == ["A Course"]


@pytest.mark.parametrize("query", ["refactor", "fowler"])
def test_change_list_searches_title_and_author(client, staff_user, product_factory, query):
    product_factory(title="Refactoring", author="Martin Fowler")
    product_factory(title="Clean Code", author="Robert C. Martin")
    client.force_login(staff_user)

    response = client.get(CHANGELIST, {"q": query})

    assert [p.title for p in response.context["cl"].result_list] == ["Refactoring"]


# ---- validation ----------------------------------------------------------------


def test_adding_a_product_trims_title_and_author(client, staff_user):
    client.force_login(staff_user)

    response = client.post(ADD, valid_product_form(title="  Clean Code  ", author=" Bob "))

    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.title, product.author, product.price) == ("Clean Code", "Bob", Decimal("32.99"))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"price": "-1.00"}, "Price cannot be negative."),
        ({"title": "   "}, "This field is required."),
        (
            {"category": "spaceships"},
            "Select a valid choice. spaceships is not one of the available choices.",
        ),
    ],
)
def test_the_admin_shows_the_models_validation_messages(client, staff_user, overrides, message):
    client.force_login(staff_user)

    response = client.post(ADD, valid_product_form(**overrides))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Product.objects.exists()


# ---- bulk category ---------------------------------------------------------------


def test_change_category_asks_for_the_new_category_first(client, staff_user, product_factory):
    chosen = product_factory(title="Chosen", category=Category.EBOOK)
    client.force_login(staff_user)

    response = client.post(
        CHANGELIST, {"action": "change_category", "_selected_action": [str(chosen.pk)]}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="category"' in html and "Chosen" in html
    assert f'name="_selected_action" value="{chosen.pk}"' in html
    chosen.refresh_from_db()
    assert chosen.category == Category.EBOOK


def test_change_category_moves_only_the_selected_products(client, staff_user, product_factory):
    chosen = [product_factory(title=f"Chosen {n}", category=Category.EBOOK) for n in range(2)]
    left_alone = product_factory(title="Left alone", category=Category.EBOOK)
    before = chosen[0].updated_at
    client.force_login(staff_user)

    response = client.post(
        CHANGELIST,
        {
            "action": "change_category",
            "_selected_action": [str(p.pk) for p in chosen],
            "category": "course",
            "apply": "Change category",
        },
        follow=True,
    )

    assert "Moved 2 products to Course." in response.content.decode()
    for product in chosen:
        product.refresh_from_db()
        assert product.category == Category.COURSE
        assert product.updated_at > before
    left_alone.refresh_from_db()
    assert left_alone.category == Category.EBOOK


def test_change_category_across_all_filtered_products(client, staff_user, product_factory):
    ebooks = [product_factory(title=f"Ebook {n}", category=Category.EBOOK) for n in range(3)]
    course = product_factory(title="A Course", category=Category.COURSE)
    client.force_login(staff_user)

    client.post(
        f"{CHANGELIST}?category__exact=ebook",
        {
            "action": "change_category",
            "select_across": "1",
            "_selected_action": [str(ebooks[0].pk)],
            "category": "other",
            "apply": "Change category",
        },
    )

    assert set(Product.objects.values_list("category", flat=True)) == {"other", "course"}
    course.refresh_from_db()
    assert course.category == Category.COURSE


def test_change_category_with_no_category_chosen_asks_again(client, staff_user, product_factory):
    chosen = product_factory(category=Category.EBOOK)
    client.force_login(staff_user)

    response = client.post(
        CHANGELIST,
        {
            "action": "change_category",
            "_selected_action": [str(chosen.pk)],
            "category": "spaceships",
            "apply": "Change category",
        },
    )

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    chosen.refresh_from_db()
    assert chosen.category == Category.EBOOK


def test_bulk_set_category_refuses_an_unknown_category(db, product_factory):
    product = product_factory(category=Category.EBOOK)

    with pytest.raises(UnknownCategoryError):
        product_bulk_set_category(products=Product.objects.all(), category="spaceships")

    product.refresh_from_db()
    assert product.category == Category.EBOOK


def test_the_change_page_previews_the_cover_the_shop_shows(client, staff_user, product_factory):
    from django.templatetags.static import static

    client.force_login(staff_user)
    plain = product_factory(image_url="")
    linked = product_factory(image_url="https://example.com/cover.jpg")

    plain_page = client.get(f"{CHANGELIST}{plain.pk}/change/").text
    linked_page = client.get(f"{CHANGELIST}{linked.pk}/change/").text

    placeholder = static("img/placeholder.svg")
    assert f'class="admin-cover-preview" src="{placeholder}"' in plain_page
    assert 'class="admin-cover-preview" src="https://example.com/cover.jpg"' in linked_page

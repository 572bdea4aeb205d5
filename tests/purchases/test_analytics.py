"""Product analytics in the admin: one aggregation, checked against hand-computed sums."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from purchases.selectors import product_sales_report

ANALYTICS_URL = "/admin/catalog/product/analytics/"


@pytest.fixture
def sales(user, user_factory, product_factory, make_purchase):
    """Five purchases of two products; a third product is never bought.

    Clean Code: 32.99 (2 credits, 20.00) + 19.99 + 10.00 (1 credit, 10.00)
        = 62.98 from 3 purchases, average 20.9933... -> 20.99, 3 credits = 30.00
    Icon Pack: 5.00 + 5.01
        = 10.01 from 2 purchases, average 5.005 -> 5.01 (half up), no credits
    All: 72.99 from 5 purchases, average 14.598 -> 14.60, 3 credits = 30.00
    """
    other = user_factory()
    clean_code = product_factory(title="Clean Code")
    icons = product_factory(title="Icon Pack")
    product_factory(title="Never Bought")
    make_purchase(
        user=user, product=clean_code, amount="32.99", credits_used=2, credit_amount="20.00"
    )
    make_purchase(user=other, product=clean_code, amount="19.99")
    make_purchase(
        user=other, product=clean_code, amount="10.00", credits_used=1, credit_amount="10.00"
    )
    make_purchase(user=user, product=icons, amount="5.00")
    make_purchase(user=other, product=icons, amount="5.01")
    return {"clean_code": clean_code, "icons": icons}


def test_report_matches_the_hand_computed_numbers(sales):
    report = product_sales_report()

    by_name = {row.product_name: row for row in report.rows}
    assert set(by_name) == {"Clean Code", "Icon Pack"}
    clean = by_name["Clean Code"]
    assert clean.product_id == sales["clean_code"].pk
    assert (clean.total_sales, clean.total_purchases, clean.avg_amount) == (
        Decimal("62.98"),
        3,
        Decimal("20.99"),
    )
    assert (clean.credits_used, clean.credit_amount) == (3, Decimal("30.00"))
    icons = by_name["Icon Pack"]
    assert (icons.total_sales, icons.total_purchases, icons.avg_amount) == (
        Decimal("10.01"),
        2,
        Decimal("5.01"),
    )
    assert (icons.credits_used, icons.credit_amount) == (0, Decimal("0.00"))
    totals = report.totals
    assert (totals.total_sales, totals.total_purchases, totals.avg_amount) == (
        Decimal("72.99"),
        5,
        Decimal("14.60"),
    )
    assert (totals.credits_used, totals.credit_amount) == (3, Decimal("30.00"))


def test_report_is_one_aggregation_on_purchases(sales):
    with CaptureQueriesContext(connection) as queries:
        product_sales_report()

    assert len(queries.captured_queries) == 1
    assert queries.captured_queries[0]["sql"].startswith("db.purchases.aggregate(")
    assert "$lookup" not in queries.captured_queries[0]["sql"]


def test_money_stays_decimal_with_two_places(sales):
    report = product_sales_report()

    for row in [*report.rows, report.totals]:
        for amount in (row.total_sales, row.avg_amount, row.credit_amount):
            assert isinstance(amount, Decimal)
            assert amount.as_tuple().exponent == -2


def test_report_sorts_by_any_column_either_way(sales):
    assert [r.product_name for r in product_sales_report().rows] == ["Clean Code", "Icon Pack"]
    assert [r.product_name for r in product_sales_report(order_by="total_sales").rows] == [
        "Icon Pack",
        "Clean Code",
    ]
    assert [r.product_name for r in product_sales_report(order_by="total_purchases").rows] == [
        "Icon Pack",
        "Clean Code",
    ]
    assert [r.product_name for r in product_sales_report(order_by="-product_name").rows] == [
        "Icon Pack",
        "Clean Code",
    ]
    assert [r.product_name for r in product_sales_report(order_by="credit_amount").rows] == [
        "Icon Pack",
        "Clean Code",
    ]


def test_an_unknown_sort_column_gives_the_default_order(sales):
    report = product_sales_report(order_by="$where")

    assert report.order_by == "-total_sales"
    assert [r.product_name for r in report.rows] == ["Clean Code", "Icon Pack"]


def test_no_purchases_gives_an_empty_report_with_zero_totals(db):
    report = product_sales_report()

    assert report.rows == []
    assert (report.totals.total_sales, report.totals.total_purchases, report.totals.avg_amount) == (
        Decimal("0.00"),
        0,
        Decimal("0.00"),
    )


def test_staff_see_the_table_with_a_totals_row(client, staff_user, sales):
    client.force_login(staff_user)

    response = client.get(ANALYTICS_URL, {"o": "total_purchases"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("Icon Pack") < html.index("Clean Code")  # fewest purchases first
    assert "Never Bought" not in html
    totals = html[html.index('<tr class="totals">') :]
    for value in ("72.99", ">5<", "14.60", ">3<", "30.00"):
        assert value in totals
    assert f'href="/admin/catalog/product/{sales["clean_code"].pk}/change/"' in html
    assert 'href="?o=-total_purchases"' in html  # clicking the sorted column flips it
    assert 'href="?o=total_purchases&amp;export=csv"' in html


def test_csv_download_has_every_row_and_the_totals(client, staff_user, sales):
    client.force_login(staff_user)

    response = client.get(ANALYTICS_URL, {"export": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="product-analytics-')
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Product id",
        "Product",
        "Total sales ($)",
        "Purchases",
        "Average paid ($)",
        "Credits applied",
        "Credits applied ($)",
    ]
    assert rows[1] == [
        str(sales["clean_code"].pk),
        "Clean Code",
        "62.98",
        "3",
        "20.99",
        "3",
        "30.00",
    ]
    assert rows[2] == [str(sales["icons"].pk), "Icon Pack", "10.01", "2", "5.01", "0", "0.00"]
    assert rows[3] == ["", "Total", "72.99", "5", "14.60", "3", "30.00"]


def test_csv_neutralises_formula_like_product_names(
    client, staff_user, user, product_factory, make_purchase
):
    product = product_factory(title='=HYPERLINK("http://evil")')
    make_purchase(user=user, product=product, amount="1.00")
    client.force_login(staff_user)

    response = client.get(ANALYTICS_URL, {"export": "csv"})

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1][1] == '\'=HYPERLINK("http://evil")'


def test_declined_and_refunded_purchases_are_not_sales(user, product_factory, make_purchase):
    book = product_factory(title="Book")
    make_purchase(user=user, product=book, amount="10.00")
    make_purchase(user=user, product=book, amount="10.00", status="failed")
    make_purchase(user=user, product=book, amount="10.00", status="refunded")

    report = product_sales_report()

    (row,) = report.rows
    assert (row.total_purchases, row.total_sales) == (1, Decimal("10.00"))

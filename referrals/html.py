"""The dashboard's two tables' rows and pagers as HTML, written in Python.

Ten referred friends and ten statement entries per page, each row four
cells: through the template's loops they were about a third of the
dashboard's rendering (a variable lookup, a filter or a comparison per cell).
Here they are an f-string per row of values escaped as autoescaping
templates escape them (referral_site.markup). Templates use them
through the ``referrals_html`` tags; tests/referrals/test_html.py holds the
markup.
"""

from django.utils.html import format_html
from django.utils.safestring import SafeString

from referral_site.markup import esc, safe_join

NONE = "—"


def referral_rows(rows) -> SafeString:
    """<tr>s of the friends you referred (referrals.selectors.ReferredUserRow)."""
    return safe_join(
        "\n",
        (
            f'<tr><td data-label="Name">{esc(row.name)}</td>'
            f'<td data-label="Joined">{esc(row.joined_label)}</td>'
            f'<td data-label="Status"><span class="status status-{esc(row.status)}">'
            f"{esc(row.state)}</span></td>"
            f'<td data-label="Converted">{esc(row.converted_label or NONE)}</td></tr>'
            for row in rows
        ),
    )


def statement_rows(rows) -> SafeString:
    """<tr>s of the credit statement (credits.selectors.StatementRow)."""
    return safe_join(
        "\n",
        (
            f'<tr><td data-label="Date">{esc(row.date_label)} UTC</td>'
            f'<td data-label="Description">{esc(row.description)}</td>'
            f'<td data-label="Amount" class="{_amount_class(row)}">{esc(row.change)}</td>'
            f'<td data-label="Balance after">'
            f"{esc(NONE if row.balance_after is None else row.balance_after)}</td></tr>"
            for row in rows
        ),
    )


def _amount_class(row) -> str:
    return "amount-out" if row.amount < 0 or row.held < 0 else "amount-in"


def pager(pager: dict) -> SafeString:
    """A table's previous/next links (referrals.dashboard.pager); nothing for one page."""
    page = pager["page"]
    if page.num_pages <= 1:
        return SafeString("")
    links = {}
    for side in ("previous", "next"):
        link = pager[side]
        links[side] = (
            format_html(
                '<a href="{}" hx-get="{}" hx-target="#{}" hx-swap="outerHTML" hx-push-url="{}">'
                "{}</a>",
                link["href"],
                link["hx"],
                pager["target"],
                link["href"],
                pager[f"{side}_label"],
            )
            if link
            else ""
        )
    return format_html(
        '<nav class="pagination" aria-label="{}">{}<span>Page {} of {}</span>{}</nav>',
        pager["label"],
        links["previous"],
        page.number,
        page.num_pages,
        links["next"],
    )

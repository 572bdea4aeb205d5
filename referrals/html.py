"""The dashboard's two tables' rows and pagers as HTML, written in Python.

Ten referred friends and ten statement entries per page, each row four
cells: through the template's loops they were about a third of the
dashboard's rendering (a variable lookup, a filter or a comparison per cell).
Here they are a format_html per row, with format_html's escaping
(conditional_escape, as autoescaping templates do). Templates use them
through the ``referrals_html`` tags; tests/referrals/test_html.py holds the
markup.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

NONE = "—"


def referral_rows(rows) -> SafeString:
    """<tr>s of the friends you referred (referrals.selectors.ReferredUserRow)."""
    return format_html_join(
        "\n",
        '<tr><td data-label="Name">{}</td><td data-label="Joined">{}</td>'
        '<td data-label="Status"><span class="status status-{}">{}</span></td>'
        '<td data-label="Converted">{}</td></tr>',
        (
            (row.name, row.joined_label, row.status, row.state, row.converted_label or NONE)
            for row in rows
        ),
    )


def statement_rows(rows) -> SafeString:
    """<tr>s of the credit statement (credits.selectors.StatementRow)."""
    return format_html_join(
        "\n",
        '<tr><td data-label="Date">{} UTC</td><td data-label="Description">{}</td>'
        '<td data-label="Amount" class="{}">{}</td><td data-label="Balance after">{}</td></tr>',
        (
            (
                row.date_label,
                row.description,
                "amount-out" if row.amount < 0 or row.held < 0 else "amount-in",
                row.change,
                NONE if row.balance_after is None else row.balance_after,
            )
            for row in rows
        ),
    )


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

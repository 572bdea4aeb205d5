"""The dashboard's table rows written in Python match the template loops they replaced.

OLD_* are the last versions of those loops in referrals/dashboard.html;
referrals.html must write the same markup (compared as parsed HTML) for every
kind of row, text that needs escaping included.
"""

from datetime import UTC, datetime

from django.template import engines
from django.test.html import parse_html

from credits.selectors import StatementRow
from referral_site.paging import Page
from referrals import html
from referrals.dashboard import pager
from referrals.selectors import ReferredUserRow

OLD_REFERRALS = """{% for row in rows %}
        <tr>
          <td data-label="Name">{{ row.name }}</td>
          <td data-label="Joined">{{ row.joined_label }}</td>
          <td data-label="Status"><span class="status status-{{ row.status }}">{{ row.state }}</span></td>
          <td data-label="Converted">{{ row.converted_label|default:"—" }}</td>
        </tr>
      {% endfor %}"""  # noqa: E501 - the template's own lines
OLD_STATEMENT = """{% for row in rows %}
        <tr>
          <td data-label="Date">{{ row.date_label }} UTC</td>
          <td data-label="Description">{{ row.description }}</td>
          <td data-label="Amount" class="{% if row.amount < 0 or row.held < 0 %}amount-out{% else %}amount-in{% endif %}">{{ row.change }}</td>
          <td data-label="Balance after">{% if row.balance_after is not None %}{{ row.balance_after }}{% else %}—{% endif %}</td>
        </tr>
      {% endfor %}"""  # noqa: E501 - the template's own lines

WHEN = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


OLD_PAGER = """{% if pager.page.num_pages > 1 %}
<nav class="pagination" aria-label="{{ pager.label }}">
  {% if pager.previous %}<a href="{{ pager.previous.href }}" hx-get="{{ pager.previous.hx }}" hx-target="#{{ pager.target }}" hx-swap="outerHTML" hx-push-url="{{ pager.previous.href }}">{{ pager.previous_label }}</a>{% endif %}
  <span>Page {{ pager.page.number }} of {{ pager.page.num_pages }}</span>
  {% if pager.next %}<a href="{{ pager.next.href }}" hx-get="{{ pager.next.hx }}" hx-target="#{{ pager.target }}" hx-swap="outerHTML" hx-push-url="{{ pager.next.href }}">{{ pager.next_label }}</a>{% endif %}
</nav>
{% endif %}"""  # noqa: E501 - the template's own lines (referrals/_pager.html)


def old(markup: str, rows=None, **context) -> str:
    return engines["django"].from_string(markup).render({"rows": rows, **context})


def test_referral_rows_match_the_template_for_every_state():
    rows = [
        ReferredUserRow(
            name='Bob <script>alert("x")</script> & Co',
            joined=WHEN,
            status="pending",
            converted_at=None,
            joined_label="14 Mar 2026",
        ),
        ReferredUserRow(
            name="Carol O'Hara",
            joined=WHEN,
            status="converted",
            converted_at=WHEN,
            joined_label="14 Mar 2026",
            converted_label="15 Mar 2026",
        ),
        ReferredUserRow(
            name="Dan",
            joined=WHEN,
            status="converted",
            converted_at=WHEN,
            review="waiting",
            joined_label="1 Jan 2026",
            converted_label="2 Jan 2026",
        ),
    ]

    written = html.referral_rows(rows)

    assert parse_html(written) == parse_html(old(OLD_REFERRALS, rows))
    assert "&lt;script&gt;" in written and "<script>" not in written


def test_statement_rows_match_the_template_for_every_kind_of_entry():
    rows = [
        StatementRow(WHEN, "Bob's first purchase", 2, 12, date_label="14 Mar 2026, 09:30"),
        StatementRow(WHEN, "Paid towards <Clean Code>", -3, 9, date_label="14 Mar 2026, 10:00"),
        StatementRow(WHEN, "Held reward", 0, None, held=2, held_until=WHEN, date_label="x"),
        StatementRow(WHEN, "Hold cancelled", 0, None, held=-2, date_label="y"),
        StatementRow(WHEN, "Nothing", 0, 0, date_label="z"),
    ]

    written = html.statement_rows(rows)

    assert parse_html(written) == parse_html(old(OLD_STATEMENT, rows))
    assert "&lt;Clean Code&gt;" in written


def test_pagers_match_the_template_on_every_page():
    for number, count in ((1, 5), (1, 25), (2, 25), (3, 25)):
        page = Page(object_list=[], number=number, per_page=10, count=count)
        made = pager(
            page,
            part="statement",
            param="spage",
            fragment_keep={},
            keep={"sort": "-joined", "rpage": '2"><b>'},
            labels=("Newer", "Older"),
            label="Statement pages",
        )

        written = html.pager(made)

        assert parse_html(written) == parse_html(old(OLD_PAGER, pager=made)), (number, count)
        assert ("Page" in written) == (count > 10)

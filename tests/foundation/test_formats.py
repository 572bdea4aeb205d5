"""Dates formatted once by the selectors read exactly as the template filter wrote them."""

from datetime import UTC, datetime, timedelta
from datetime import timezone as tz

from django.utils.dateformat import format as date_format

from referral_site.formats import table_date, table_datetime


def test_table_dates_read_as_the_date_filter_writes_them():
    for moment in (
        datetime(2026, 12, 4, 9, 5, tzinfo=UTC),
        datetime(2026, 1, 31, 23, 59, tzinfo=UTC),
        datetime(2026, 5, 1, 1, 0, tzinfo=tz(timedelta(hours=2))),  # shown in UTC
    ):
        in_utc = moment.astimezone(UTC)
        assert table_date(moment) == date_format(in_utc, "j M Y")
        assert table_datetime(moment) == date_format(in_utc, "j M Y, H:i")
    assert table_date(None) == ""

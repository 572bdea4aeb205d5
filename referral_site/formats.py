"""How values leave the application in files: exports, CSV reports, GDPR data."""

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds (MongoDB's precision): ``2024-01-12T14:20:00.000Z``.

    pymongo hands back naive datetimes that are UTC; the ORM aware ones.
    """
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def table_date(moment: datetime | None) -> str:
    """A date in a table: ``14 Dec 2026`` (UTC), what ``|date:"j M Y"`` writes; "" for None.

    Formatted once by the selectors that build table rows, not by the
    template filter for every cell.
    """
    if moment is None:
        return ""
    moment = _utc(moment)
    return f"{moment.day} {moment:%b} {moment.year}"


def table_datetime(moment: datetime) -> str:
    """``14 Dec 2026, 09:05`` (UTC), what ``|date:"j M Y, H:i"`` writes."""
    moment = _utc(moment)
    return f"{moment.day} {moment:%b} {moment.year}, {moment:%H:%M}"


def long_date(moment: datetime) -> str:
    """``14 December 2026`` (UTC), what ``|date:"j F Y"`` writes."""
    moment = _utc(moment)
    return f"{moment.day} {moment:%B} {moment.year}"


def day_label(moment: datetime) -> str:
    """A date as customers read it in a sentence: ``Dec 14, 2026`` (UTC)."""
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{moment:%b} {moment.day}, {moment.year}"

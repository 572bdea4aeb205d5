"""How values leave the application in files: exports, CSV reports, GDPR data."""

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds (MongoDB's precision): ``2024-01-12T14:20:00.000Z``.

    pymongo hands back naive datetimes that are UTC; the ORM aware ones.
    """
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

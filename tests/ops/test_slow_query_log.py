import logging

import pytest

from accounts.models import User


def test_slow_commands_are_logged_without_personal_data(settings, user, caplog):
    settings.SLOW_QUERY_MS = 0  # every command is "slow"

    with caplog.at_level(logging.WARNING, logger="referral_site.slow_query"):
        User.objects.filter(email="ada@example.com", name="Ada Lovelace").count()

    records = [r for r in caplog.records if r.name == "referral_site.slow_query"]
    lines = [r.getMessage() for r in records]
    assert any(line.startswith("slow database command: aggregate users took ") for line in lines)
    assert not any("ada@example.com" in line or "Ada" in line for line in lines)
    assert (records[0].db_command, records[0].db_collection) == ("aggregate", "users")


def test_fast_commands_are_not_logged(settings, user, caplog):
    settings.SLOW_QUERY_MS = 60_000

    with caplog.at_level(logging.WARNING, logger="referral_site.slow_query"):
        User.objects.filter(email="ada@example.com").count()

    assert not [r for r in caplog.records if r.name == "referral_site.slow_query"]


def test_the_counting_listener_is_attached_only_where_something_counts(settings):
    from referral_site.db_monitoring import (
        COUNTING_LISTENER,
        SLOW_LISTENER,
        count_commands,
        event_listeners,
    )

    assert event_listeners() == [COUNTING_LISTENER, SLOW_LISTENER]  # the tests count

    settings.DB_COMMAND_COUNTING = False  # production's default

    assert event_listeners() == [SLOW_LISTENER]
    with pytest.raises(RuntimeError, match="DB_COMMAND_COUNTING"), count_commands():
        pass

import logging

from accounts.models import User


def test_slow_commands_are_logged_without_personal_data(settings, user, caplog):
    from django.db import connection

    from referral_site.db_monitoring import SlowCommandListener

    listener = SlowCommandListener(threshold_ms=0)
    # The site's client carries the listener; add one with a zero threshold.
    connection.connection._event_listeners.event_listeners().append(listener) if hasattr(
        connection.connection, "_event_listeners") else None
    client_listeners = connection.connection.options.pool_options._event_listeners
    client_listeners._EventListeners__command_listeners.append(listener)
    try:
        with caplog.at_level(logging.WARNING, logger="referral_site.slow_query"):
            User.objects.filter(email="ada@example.com").count()
    finally:
        client_listeners._EventListeners__command_listeners.remove(listener)

    lines = [r.getMessage() for r in caplog.records if r.name == "referral_site.slow_query"]
    assert any(line.startswith("slow database command: aggregate users took ") for line in lines)
    assert not any("ada@example.com" in line or "Ada" in line for line in lines)
    record = next(r for r in caplog.records if r.name == "referral_site.slow_query")
    assert (record.db_command, record.db_collection) == ("aggregate", "users")

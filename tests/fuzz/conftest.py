def pytest_terminal_summary(terminalreporter):
    """How much the fuzz test did: requests and their time (for the closing note)."""
    from tests.fuzz.test_no_server_errors import STATS

    if STATS["requests"]:
        terminalreporter.write_line(
            f"fuzz: {STATS['requests']} requests in {STATS['seconds']:.1f} s"
        )

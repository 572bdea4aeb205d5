"""Checkout benchmark: database commands and wall time per request.

    .venv/bin/python bench/checkout.py [--rounds 30]

Starts its own memory-engine embedded server (or uses MONGODB_URI), seeds a
catalog and users, then measures in-process through Django's test client:
checkout GET, and checkout POST on the first-purchase path with the referral
award (a referred user's first purchase by card). Prints a Markdown table and
writes it to bench/results/checkout.md. Targets: GET <= 4 commands, award
POST <= 12.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "referral_site.settings.test")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    import django
    from django.conf import settings

    server = None
    if not os.environ.get("MONGODB_URI"):
        from referral_site import embedded

        server = embedded.start_ephemeral()
        database = settings.DATABASES["default"]
        database.pop("EMBEDDED", None)
        database["HOST"] = server.uri
        database["NAME"] = "bench_checkout"
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    try:
        django.setup()
        return run(args.rounds)
    finally:
        if server is not None:
            server.stop()


def run(rounds: int) -> int:
    import re

    from django.core.management import call_command
    from django.test import Client

    from accounts.services import user_create
    from catalog.models import Product
    from referral_site.db_monitoring import count_commands
    from referrals.models import Referral

    call_command("migrate", verbosity=0)
    products = Product.objects.bulk_create(
        Product(title=f"Bench product {i}", description="d", author="a",
                price=Decimal("32.99"), category="ebook") for i in range(60))
    referrer = user_create(email="referrer@bench.test", password="pw-bench-123", name="Ref")
    card = {"card_number": "4242 4242 4242 4242", "card_expiry": "12/34", "card_cvc": "123"}
    rows = {"GET /checkout/<id>/": [], "POST /checkout/<id>/ (first purchase + award)": []}
    commands = {key: [] for key in rows}
    for i in range(rounds):
        buyer = user_create(email=f"buyer{i}-{uuid.uuid4().hex[:6]}@bench.test",
                            password="pw-bench-123", name=f"Buyer {i}", referred_by=referrer)
        Referral.objects.create(referrer=referrer, referred_user=buyer)
        client = Client()
        client.force_login(buyer)
        product = products[i % len(products)]
        url = f"/checkout/{product.pk}/"
        client.get(url)  # warm the connection and caches once per client
        with count_commands() as log:
            started = time.perf_counter()
            page = client.get(url)
            rows["GET /checkout/<id>/"].append(time.perf_counter() - started)
        commands["GET /checkout/<id>/"].append(len(log))
        token = re.search(rb'name="token" value="([0-9a-f]{32})"', page.content).group(1)
        with count_commands() as log:
            started = time.perf_counter()
            response = client.post(url, {"token": token.decode(), "credits": 0,
                                         "action": "pay", **card})
            rows["POST /checkout/<id>/ (first purchase + award)"].append(
                time.perf_counter() - started)
        assert response.status_code == 302, response.status_code
        commands["POST /checkout/<id>/ (first purchase + award)"].append(len(log))

    lines = [
        f"Checkout benchmark: {rounds} rounds, in-process, {os.cpu_count()} CPUs, "
        f"{'MONGODB_URI' if os.environ.get('MONGODB_URI') else 'embedded memory engine'}",
        "",
        "| request | DB commands (max) | p50 ms | p95 ms |",
        "|---|---|---|---|",
    ]
    for name, times in rows.items():
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
        lines.append(f"| {name} | {max(commands[name])} | {statistics.median(ordered) * 1000:.1f}"
                     f" | {p95 * 1000:.1f} |")
    table = "\n".join(lines)
    print(table)
    out = ROOT / "bench" / "results" / "checkout.md"
    out.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

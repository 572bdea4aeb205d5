"""/metrics: closed by default, the Prometheus text format, and summed over gunicorn workers."""

import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from referral_site import embedded
from referral_site.metrics import SCRAPE
from tests.shopping import buy, give_credits

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "scrape-token-for-tests"  # noqa: S105 - a test value


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted label items): value} of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def scrape(client, settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    SCRAPE.clear()

    def get() -> dict:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        return samples(response.content.decode())

    return get


@pytest.mark.django_db
def test_metrics_refuse_a_client_when_nothing_is_configured(client, settings):
    settings.METRICS_ALLOWED_IPS = []
    settings.METRICS_BEARER_TOKEN = ""

    response = client.get("/metrics")
    with_any_token = client.get("/metrics", headers={"Authorization": "Bearer "})

    assert response.status_code == 403
    assert with_any_token.status_code == 403
    assert b"http_requests_total" not in response.content


@pytest.mark.django_db
def test_metrics_refuse_a_wrong_token_and_an_address_outside_the_allowed_networks(client, settings):
    settings.METRICS_BEARER_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    outside = client.get("/metrics", REMOTE_ADDR="192.168.1.5")
    inside = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert wrong.status_code == 403
    assert outside.status_code == 403
    assert inside.status_code == 200


@pytest.mark.django_db
def test_metrics_count_requests_by_view_and_status_and_database_commands(client, scrape):
    before = scrape()

    client.get("/livez")
    client.get("/livez")
    client.get("/products/")
    client.get("/no-such-page/")
    after = scrape()

    for key, expected in (
        (("livez", "200"), 2),
        (("catalog:product_list", "200"), 1),
        (("unmatched", "404"), 1),
    ):
        view, status = key
        labels = {"view": view, "method": "GET", "status": status}
        assert (
            value(after, "http_requests_total", **labels)
            - value(before, "http_requests_total", **labels)
            == expected
        ), key
    assert value(after, "http_request_duration_seconds_count", view="livez") - value(
        before, "http_request_duration_seconds_count", view="livez"
    ) == pytest.approx(2)
    # The catalog page read the products collection at least once.
    grew = [
        key
        for key in after
        if key[0] == "mongodb_commands_total"
        and ("collection", "products") in key[1]
        and after[key] > before.get(key, 0)
    ]
    assert grew
    assert value(after, "mongodb_pool_checkouts_total") > value(
        before, "mongodb_pool_checkouts_total"
    )
    assert value(after, "mongodb_pool_connections") >= 1


@pytest.mark.django_db
def test_metrics_show_credits_purchases_conversions_and_the_server(
    scrape, referred, referrer, product_factory, settings
):
    # given a referred buyer's first purchase by card (a conversion: 2 + 2 credits)
    product = product_factory(price=Decimal("19.99"))
    give_credits(referrer, 3)
    buy(referred, product)

    found = scrape()

    assert value(found, "shop_credits", state="spendable") == 3 + 2 + 2
    assert value(found, "shop_credits", state="held") == 0
    assert value(found, "shop_purchases", status="completed") == 1
    assert value(found, "shop_referrals", status="converted") == 1
    assert value(found, "shop_rewarded_conversions") == 1
    assert value(found, "mongodb_server_connections", state="current") >= 1
    assert value(found, "mongodb_scrape_ok") == 1


@pytest.mark.django_db
def test_database_numbers_are_read_at_most_once_per_scrape_interval(scrape, user, settings):
    settings.METRICS_DB_SCRAPE_SECONDS = 60
    first = scrape()
    give_credits(user, 5)

    cached = scrape()
    SCRAPE.clear()  # the interval has passed
    fresh = scrape()

    assert value(cached, "shop_credits", state="spendable") == value(
        first, "shop_credits", state="spendable"
    )
    assert (
        value(fresh, "shop_credits", state="spendable")
        == value(first, "shop_credits", state="spendable") + 5
    )


# --------------------------------------------------------------------------
# Two gunicorn workers
# --------------------------------------------------------------------------


def _get(url: str, headers=None, timeout: float = 10.0) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def two_workers(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    env = {
        **os.environ,
        # The test run's database server; an empty database of its own is enough.
        "MONGODB_URI": os.environ["TEST_MONGODB_URI"],
        "MONGODB_NAME": "metrics_two_workers",
        "DJANGO_SETTINGS_MODULE": "referral_site.settings.local",
        "DEBUG": "false",
        "METRICS_BEARER_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    port = embedded.free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            "--workers",
            "2",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            # Probed on /metrics (refused without the token), not /livez: a probe
            # that times out here but is answered later must not count below.
            if _get(f"{base}/metrics", timeout=2)[0] == 403:
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("gunicorn did not come up")
    yield base, metrics_dir
    server.terminate()
    server.wait(timeout=30)


def _livez_by_worker(metrics_dir: Path) -> dict[str, float]:
    """Each worker's own count of GET /livez answers, read from its file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, count, *_rest in MmapedDict.read_all_values_from_file(str(path)):
            if '"http_requests_total"' in key and '"livez"' in key and '"200"' in key:
                counts[path.stem] = counts.get(path.stem, 0) + count
    return counts


def test_the_metrics_of_two_gunicorn_workers_are_summed(two_workers):
    base, metrics_dir = two_workers
    headers = {"Authorization": f"Bearer {TOKEN}"}
    livez = {"view": "livez", "method": "GET", "status": "200"}
    before = value(
        samples(_get(f"{base}/metrics", headers=headers)[1]), "http_requests_total", **livez
    )
    sent = 0
    # Parallel clients keep both sync workers busy; repeat until both answered some
    # (the kernel may hand one worker many rounds of these fast requests in a row).
    for _round in range(50):
        threads = [
            threading.Thread(target=lambda: [_get(f"{base}/livez") for _ in range(5)])
            for _ in range(8)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent += 40
        if len([n for n in _livez_by_worker(metrics_dir).values() if n]) >= 2:
            break
    per_worker = _livez_by_worker(metrics_dir)

    status, text = _get(f"{base}/metrics", headers=headers)
    refused, _ = _get(f"{base}/metrics")

    assert status == 200
    assert refused == 403
    assert len([n for n in per_worker.values() if n]) == 2
    total = value(samples(text), "http_requests_total", **livez)
    assert total - before == sent
    assert sum(per_worker.values()) == total

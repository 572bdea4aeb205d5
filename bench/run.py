"""Benchmark suite: database commands, latency and throughput of the main pages.

    make bench                      # = .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --scale 2 --sizes 1,4 --workers 5

Starts its own memory-engine embedded server, migrates, seeds a data set in
bulk (per 1x: 400 users, 200 referrals, 1,000 purchases, 60 products, times
--scale), serves it with gunicorn and measures, at each size of --sizes (the
data is topped up from one size to the next):

* database commands per request, in-process through Django's test client;
* p50 and p95 latency over HTTP with one client;
* requests per second with 1, 8 and 32 concurrent clients, and each as a
  share of /livez (no database) measured in the same run: the ceiling.

Prints a Markdown report and writes it to bench/results/latest.md and a dated
copy. bench/README.md explains the flags and how to read the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import platform
import re
import subprocess
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

BASE_COUNTS = {"users": 400, "referrals": 200, "purchases": 1000, "products": 60}
BATCH = 500  # documents per insert command while seeding
# The stand-in checks the compound unique index of first purchases
# ({userId, isFirstPurchase}) by scanning the collection: about 0.1 ms per
# stored purchase for every first purchase inserted. Small insert commands keep
# each under a few seconds, so that its single event loop still answers the
# drivers' heartbeats (a missed one cancels the operation in flight).
PURCHASE_BATCH = 50
CATEGORIES = ("ebook", "course", "template", "software", "other")
# What the checkout's Stripe.js posts for a card: the emulator's test payment method.
CARD = {"payment_method_id": "pm_card_visa"}
FORM_ENCODED = "application/x-www-form-urlencoded"  # what a <form method="post"> sends
PROFILE_SAMPLES = 120  # in-process requests per GET page: commands, application and database ms
PROFILE_POSTS = 40  # in-process checkout POSTs (one buyer each) for the same figures
# The projection for a real MongoDB: each indexed command's round trip on a
# nearby server, added to the application time measured here.
REAL_MONGODB_MS_PER_COMMAND = 0.35
DB_NAME = "bench"
BUYER_CODES = 10**9  # buyers' referral codes start here, far above the seeded users'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark the site's pages on the embedded database (bench/README.md)."
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the 1x data set (400 users, 200 referrals, 1,000 "
        "purchases, 60 products) by this (default 1)",
    )
    parser.add_argument(
        "--sizes",
        default="1,4",
        help="comma-separated sizes to measure, in multiples of the scaled "
        "data set, ascending (default 1,4)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=(os.cpu_count() or 1) * 2 + 1,
        help="gunicorn sync workers (default 2 x CPUs + 1)",
    )
    parser.add_argument(
        "--clients",
        default="1,8,32",
        help="concurrent client counts for throughput (default 1,8,32)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=3000,
        help="requests per GET measurement, at most (default 3000; the time "
        "limit ends most measurements first)",
    )
    parser.add_argument(
        "--post-requests",
        type=int,
        default=40,
        help="checkout POSTs per client count, at most; each is a new buyer (default 40)",
    )
    parser.add_argument(
        "--time-limit", type=float, default=6.0, help="seconds per measurement, at most (default 6)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also write a cProfile summary of each page's in-process requests "
        "(profile-<size>-<n>.txt in --out; the profiled run's own timings are slower)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="directory for latest.md and the dated copy (default bench/results)",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({float(s) for s in args.sizes.split(",") if s.strip()})
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--sizes and --clients take comma-separated numbers, e.g. 1,4")
    if not args.sizes or min(args.sizes) <= 0 or args.scale <= 0:
        parser.error("--sizes and --scale must be positive")
    if not args.clients or min(args.clients) < 1 or args.workers < 1:
        parser.error("--clients and --workers must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from referral_site import embedded, stripe_emulator

    started = time.perf_counter()
    try:
        server = embedded.start_ephemeral()
        payments = stripe_emulator.start_ephemeral()
    except (embedded.EmbeddedServerError, stripe_emulator.EmulatorError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # One environment for this process and gunicorn: the same database, the
    # same secret key (sessions made here are valid there), DEBUG off.
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "referral_site.settings.local",
            "MONGODB_URI": server.uri,
            "MONGODB_NAME": DB_NAME,
            "DEBUG": "false",
            # Commands per page are counted in this process (count_commands).
            "DB_COMMAND_COUNTING": "true",
            # /_floor/: the layout alone for a signed-in user, the framework floor.
            "BENCHMARK_FLOOR_VIEW": "true",
            "ALLOWED_HOSTS": "localhost,127.0.0.1,testserver",
            # The slow-query log would report most commands of a loaded stand-in.
            "LOG_LEVEL": "ERROR",
            # The award e-mails of the checkout POSTs: built and sent, to nowhere.
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            # Card payments: this run's Stripe emulator.
            "STRIPE_SECRET_KEY": stripe_emulator.SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": stripe_emulator.PUBLISHABLE_KEY,
            "STRIPE_WEBHOOK_SECRET": stripe_emulator.WEBHOOK_SECRET,
            "STRIPE_API_BASE": payments.api_base,
            "STRIPE_JS_URL": payments.js_url,
        }
    )
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    try:
        import django

        django.setup()
        bench = Bench(args)
        report = bench.run()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        server.stop()
        payments.stop()
    report += f"\nTotal run time: {time.perf_counter() - started:.0f} s.\n"
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    (args.out / "latest.md").write_text(report)
    (args.out / f"{stamp}.md").write_text(report)
    print(f"written to {args.out / 'latest.md'} and {args.out / (stamp + '.md')}", file=sys.stderr)
    return 0


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------


def referral_code(n: int) -> str:
    """A unique, valid referral code for seeded user ``n`` (8 characters)."""
    from accounts.models import REFERRAL_CODE_ALPHABET as alphabet

    digits = []
    for _ in range(8):
        n, digit = divmod(n, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(reversed(digits))


@dataclass
class Seeded:
    """What exists so far; the next size is added on top."""

    user_ids: list = field(default_factory=list)
    products: list = field(default_factory=list)
    balances: dict = field(default_factory=dict)  # user id -> credits
    counts: dict = field(
        default_factory=lambda: dict.fromkeys(
            ("users", "referrals", "purchases", "products", "ledger"), 0
        )
    )
    next_buyer: int = 0


class Seeder:
    def __init__(self, scale: float):
        from django.conf import settings
        from django.contrib.auth.hashers import make_password

        self.scale = scale
        self.state = Seeded()
        # One hash for every seeded account: hashing is the slow part of a sign-up.
        self.password_hash = make_password("bench-password-123")
        self.backend = settings.AUTHENTICATION_BACKENDS[0]

    def target(self, size: float) -> dict:
        counts = {k: max(1, round(v * self.scale * size)) for k, v in BASE_COUNTS.items()}
        counts["users"] += counts["users"] % 2  # referred users are the odd ones
        return counts

    def grow_to(self, size: float) -> dict:
        """Insert what the data set lacks to be ``size``; return counts added and seconds."""
        from bson import ObjectId
        from django.db.models import F

        from accounts.models import User
        from catalog.models import Product
        from credits.models import CreditTransaction
        from purchases.models import Purchase, PurchaseStatus
        from referrals.conversion import Conversion, referral_reward_grants
        from referrals.models import Referral, ReferralStatus

        started = time.perf_counter()
        state, target = self.state, self.target(size)
        before = dict(state.counts)

        # Products: prices 5.00 to 79.99 over the five categories.
        new_products = [
            Product(
                title=f"Bench product {i}",
                description="A product for the benchmark.",
                author=f"Author {i % 37}",
                price=Decimal(500 + (i * 7919) % 7500) / 100,
                category=CATEGORIES[i % len(CATEGORIES)],
            )
            for i in range(state.counts["products"], target["products"])
        ]
        Product.objects.bulk_create(new_products, batch_size=BATCH)
        state.products.extend(new_products)
        state.counts["products"] = target["products"]

        # Users: odd ones are referred, a quarter of them by user 0 (the
        # dashboard's referrer, whose referrals grow with the data), the rest
        # by the even user just before them. Four in five users buy.
        first, last = state.counts["users"], target["users"]
        ids = [ObjectId() for _ in range(first, last)]
        state.user_ids.extend(ids)

        def referrer_index(i: int) -> int | None:
            if i % 2 == 0:
                return None
            return 0 if (i // 2) % 4 == 0 else i - 1

        # Purchases of this batch go to this batch's buyers, so first purchases
        # and referral conversions are decided here.
        buyers = [i for i in range(first, last) if i % 5 != 3]
        purchases, bought = [], {}
        n_purchases = target["purchases"] - state.counts["purchases"]
        for j in range(n_purchases):
            i = buyers[j % len(buyers)]
            product = state.products[(j * 13 + i) % len(state.products)]
            is_first = i not in bought
            bought.setdefault(i, j)
            referred = referrer_index(i) is not None
            purchases.append(
                Purchase(
                    user_id=state.user_ids[i],
                    product=product,
                    product_name=product.title,
                    amount=product.price,
                    credits_used=0,
                    credit_amount=Decimal("0.00"),
                    cash_amount=product.price,
                    payment_method_id="pm_card_visa",
                    is_first_purchase=is_first,
                    referral_credit_awarded=is_first and referred,
                    status=PurchaseStatus.COMPLETED,
                    idempotency_key=f"bench:{state.counts['purchases'] + j}",
                    payment_intent_id=f"pi_bench_{state.counts['purchases'] + j}",
                )
            )
        for purchase in purchases:
            purchase.pk = ObjectId()

        referrals, ledger = [], []
        referred_count = {}
        for i in range(first, last):
            ref = referrer_index(i)
            if ref is None:
                continue
            converted = i in bought
            referral = Referral(
                pk=ObjectId(),
                referrer_id=state.user_ids[ref],
                referred_user_id=state.user_ids[i],
                status=ReferralStatus.CONVERTED if converted else ReferralStatus.PENDING,
                credits_awarded=converted,
                converted_at=dt.datetime.now(dt.UTC) if converted else None,
            )
            referrals.append(referral)
            referred_count[ref] = referred_count.get(ref, 0) + 1
            if not converted:
                continue
            # The same grants as a real conversion (settings' reward amounts, its keys).
            conversion = Conversion(
                referral_id=referral.pk,
                referrer_id=state.user_ids[ref],
                referred_user_id=state.user_ids[i],
            )
            for grant in referral_reward_grants(
                conversion=conversion, purchase_id=purchases[bought[i]].pk
            ):
                uid = grant.user_id
                state.balances[uid] = state.balances.get(uid, 0) + grant.amount
                ledger.append(
                    CreditTransaction(
                        user_id=uid,
                        amount=grant.amount,
                        kind=grant.kind,
                        purchase_id=grant.purchase_id,
                        referral_id=grant.referral_id,
                        referred_user_id=grant.referred_user_id,
                        reason=grant.reason,
                        balance_after=state.balances[uid],
                        idempotency_key=grant.idempotency_key,
                    )
                )

        users = [
            User(
                pk=ids[i - first],
                clerk_user_id=f"local_bench{i}",
                referral_code=referral_code(i),
                name=f"Bench User {i}",
                email=f"user{i}@bench.test",
                password=self.password_hash,
                referred_by_id=state.user_ids[referrer_index(i)]
                if referrer_index(i) is not None
                else None,
                credits=state.balances.get(ids[i - first], 0),
                total_credits_earned=state.balances.get(ids[i - first], 0),
                total_referred_users=referred_count.get(i, 0),
            )
            for i in range(first, last)
        ]
        User.objects.bulk_create(users, batch_size=BATCH)
        Purchase.objects.bulk_create(purchases, batch_size=PURCHASE_BATCH)
        Referral.objects.bulk_create(referrals, batch_size=BATCH)
        CreditTransaction.objects.bulk_create(ledger, batch_size=BATCH)
        # Referrers from earlier sizes (user 0) gained referrals and credits here.
        for ref, count in referred_count.items():
            if ref < first:
                uid = state.user_ids[ref]
                earned = sum(t.amount for t in ledger if t.user_id == uid)
                User.objects.filter(pk=uid).update(
                    total_referred_users=F("total_referred_users") + count,
                    credits=F("credits") + earned,
                    total_credits_earned=F("total_credits_earned") + earned,
                )

        state.counts.update(
            users=last,
            purchases=target["purchases"],
            referrals=state.counts["referrals"] + len(referrals),
            ledger=state.counts["ledger"] + len(ledger),
        )
        added = {k: state.counts[k] - before[k] for k in state.counts}
        return {"added": added, "seconds": time.perf_counter() - started}

    def make_buyers(self, n: int) -> list[tuple]:
        """``n`` new users, each referred (pending) by a seeded user and signed in.

        Returns (user, session key) pairs. Their first purchase takes the
        referral-award path. Sessions are made here, not through the login
        form, which is rate-limited per IP address.
        """
        from bson import ObjectId
        from django.contrib.sessions.backends.db import SessionStore
        from django.contrib.sessions.models import Session
        from django.utils import timezone
        from django.utils.crypto import get_random_string

        from accounts.models import User
        from referrals.models import Referral

        state = self.state
        referrers = state.user_ids[2::2] or state.user_ids[:1]
        users, referrals, sessions, pairs = [], [], [], []
        expires = timezone.now() + dt.timedelta(days=1)
        store = SessionStore()
        for k in range(n):
            i = state.next_buyer + k
            referrer = referrers[k % len(referrers)]
            user = User(
                pk=ObjectId(),
                clerk_user_id=f"local_buyer{i}",
                referral_code=referral_code(BUYER_CODES + i),
                name=f"Bench Buyer {i}",
                email=f"buyer{i}@bench.test",
                password=self.password_hash,
                referred_by_id=referrer,
            )
            users.append(user)
            referrals.append(Referral(referrer_id=referrer, referred_user_id=user.pk))
            key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
            data = store.encode(
                {
                    "_auth_user_id": str(user.pk),
                    "_auth_user_backend": self.backend,
                    "_auth_user_hash": user.get_session_auth_hash(),
                }
            )
            sessions.append(Session(session_key=key, expire_date=expires, session_data=data))
            pairs.append((user, key))
        state.next_buyer += n
        User.objects.bulk_create(users, batch_size=BATCH)
        Referral.objects.bulk_create(referrals, batch_size=BATCH)
        Session.objects.bulk_create(sessions, batch_size=BATCH)
        return pairs


# --------------------------------------------------------------------------
# HTTP load
# --------------------------------------------------------------------------


@dataclass
class Load:
    clients: int
    latencies: list  # seconds, of the requests that answered as expected
    errors: int
    seconds: float

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def cookie_header(cookies: dict) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def run_load(
    port: int, make_request, *, clients: int, max_requests: int, time_limit: float, expected: int
) -> Load:
    """``clients`` threads, each with its own connection, until either bound is hit.

    ``make_request(n)`` gives request n as (method, path, body, headers). With
    sync workers gunicorn closes every connection after its response;
    http.client then opens a new one (loopback) for the next request.
    """
    lock = threading.Lock()
    issued = 0
    latencies, errors = [], []
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client():
        nonlocal issued
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        barrier.wait()
        while True:
            with lock:
                if issued >= max_requests or time.perf_counter() > deadline[0]:
                    break
                n = issued
                issued += 1
            method, path, body, headers = make_request(n)
            t0 = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                status = 0
            elapsed = time.perf_counter() - t0
            (latencies.append(elapsed) if status == expected else errors.append(status))
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + time_limit
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return Load(
        clients=clients,
        latencies=latencies,
        errors=len(errors),
        seconds=time.perf_counter() - started,
    )


def http_get(port: int, path: str, cookies: dict) -> tuple[int, str, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("GET", path, headers={"Cookie": cookie_header(cookies)})
        response = connection.getresponse()
        body = response.read().decode()
        set_cookies = {}
        for header in response.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            set_cookies.update({name: morsel.value for name, morsel in jar.items()})
        return response.status, body, set_cookies
    finally:
        connection.close()


# --------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    path: str
    session: str | None = None  # session key of the signed-in visitor
    must_contain: str = ""  # proof, checked in-process, that the page shows real data
    expected: int = 200


@dataclass
class Profile:
    """In-process figures of one request kind: lower quartiles over the samples.

    The lower quartile, not the median: on a machine whose CPUs the stand-in,
    gunicorn and the benchmark share, other work lands in some samples and
    moved the median of the same page by up to half between runs; the
    quartile keeps what the request itself costs and is as reproducible as
    the machine allows.
    """

    commands: list  # per sample
    app_ms: float  # wall time minus database and payment time: our Python and the framework's
    db_ms: float  # the commands' own durations, from the driver's listener
    pay_ms: float = 0.0  # waiting for the payment provider (here the Stripe emulator)

    @property
    def projected_ms(self) -> float:
        """On a real MongoDB: application time plus a round trip per command (a projection)."""
        return self.app_ms + max(self.commands) * REAL_MONGODB_MS_PER_COMMAND


@dataclass
class Row:
    page: str
    profile: Profile
    loads: dict  # clients -> Load

    @property
    def commands(self) -> list:
        return self.profile.commands


class Bench:
    def __init__(self, args):
        self.args = args
        self.seeder = None
        self.sections = []
        self.sizes_table = []
        self.results = {}  # size -> [Row]
        self.migrate_seconds = 0.0

    def run(self) -> str:
        from django.core.management import call_command

        progress("migrating")
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        self.migrate_seconds = time.perf_counter() - t0
        self.seeder = Seeder(self.args.scale)
        with Gunicorn(self.args.workers) as site:
            self.port = site.port
            for size in self.args.sizes:
                progress(f"seeding to {size:g}x")
                seeded = self.seeder.grow_to(size)
                counts = dict(self.seeder.state.counts)
                self.sizes_table.append((size, counts, seeded["seconds"]))
                progress(f"seeded in {seeded['seconds']:.1f} s: {counts}")
                self.results[size] = self.measure(size)
        return self.report()

    # -- one size ------------------------------------------------------------

    def pages(self) -> list[Page]:
        from django.contrib.sessions.backends.db import SessionStore
        from django.utils import timezone

        from accounts.models import User

        state = self.seeder.state

        # The dashboard's referrer (user 0) and a shopper, signed in by sessions made here.
        def session_for(user_id) -> str:
            user = User.objects.get(pk=user_id)
            store = SessionStore()
            store.update(
                {
                    "_auth_user_id": str(user.pk),
                    "_auth_user_backend": self.seeder.backend,
                    "_auth_user_hash": user.get_session_auth_hash(),
                }
            )
            store.set_expiry(timezone.now() + dt.timedelta(days=1))
            store.create()
            return store.session_key

        referrer = session_for(state.user_ids[0])
        shopper = session_for(state.user_ids[2])
        product = state.products[len(state.products) // 2]
        return [
            Page("GET /livez (ceiling, no database)", "/livez"),
            Page(
                "GET /_floor/ (framework floor: layout, signed in)",
                "/_floor/",
                shopper,
                must_contain="<h1>Layout</h1>",
            ),
            Page("GET / (home)", "/", must_contain='class="product-card"'),
            Page(
                "GET /products/ filtered",
                # A filter whose first page is full at every size (24 of about
                # 55 products at 1x): each size measures the same page.
                "/products/?min_price=10&sort=price_asc",
                must_contain='class="product-card"',
            ),
            Page(
                "GET /products/<id>/ (signed in)",
                f"/products/{product.pk}/",
                shopper,
                must_contain=product.title,
            ),
            Page(
                "GET /dashboard/ (referrer of many)",
                "/dashboard/",
                referrer,
                must_contain='<span class="status status-converted">',
            ),
            Page(
                "GET /checkout/<id>/",
                f"/checkout/{product.pk}/",
                shopper,
                must_contain='name="token"',
            ),
        ]

    def measure(self, size: float) -> list[Row]:
        args = self.args
        rows = []
        pages = self.pages()
        post_name = "POST /checkout/<id>/ (first purchase, award)"
        progress(f"{size:g}x in-process: every page, interleaved")
        profiles = self.profile_all(pages, post_name, pages[-1].path)
        for page in pages:
            profile = profiles[page.name]
            cookies = {"sessionid": page.session} if page.session else {}
            headers = {"Cookie": cookie_header(cookies)} if cookies else {}

            def make_request(n, path=page.path, headers=headers):
                return "GET", path, None, headers

            # Warm every worker (imports, database connection) before timing.
            run_load(
                self.port,
                make_request,
                clients=args.workers,
                max_requests=args.workers * 3,
                time_limit=30,
                expected=page.expected,
            )
            loads = {}
            for clients in args.clients:
                progress(f"{size:g}x {page.name}: {clients} client(s)")
                loads[clients] = run_load(
                    self.port,
                    make_request,
                    clients=clients,
                    max_requests=args.requests,
                    time_limit=args.time_limit,
                    expected=page.expected,
                )
            rows.append(Row(page.name, profile, loads))
        post_profile = profiles[post_name]
        rows.append(self.measure_checkout_post(size, post_name, pages[-1].path, post_profile))
        return rows

    def profile_all(self, pages: list[Page], post_name: str, post_path: str) -> dict:
        """In-process figures of every page, the checkout POST included, before any HTTP load.

        The requests are interleaved (one of each page per round, a POST in
        each of the first rounds), so that whatever else the shared CPUs do
        lands on every page alike and the ratio to the framework floor
        compares samples taken side by side. With --profile, each page is
        profiled on its own instead (a profile must hold one page).
        """
        from django.conf import settings
        from django.test import Client

        requests = {}
        for page in pages:
            client = Client()
            if page.session:
                client.cookies[settings.SESSION_COOKIE_NAME] = page.session
            for _ in range(3):  # warm caches, templates and the connection
                response = client.get(page.path)
            if response.status_code != page.expected:
                raise RuntimeError(f"{page.path} answered {response.status_code} in-process")
            if page.must_contain not in response.text:
                raise RuntimeError(f"{page.path} does not show {page.must_contain!r}")
            requests[page.name] = [lambda c=client, p=page.path: c.get(p)] * PROFILE_SAMPLES
        requests[post_name] = self.checkout_posts(post_path)
        if not self.args.profile:
            return profiled(requests)
        return {name: self.profiled(name, calls) for name, calls in requests.items()}

    def checkout_posts(self, path: str) -> list:
        """PROFILE_POSTS first purchases by card, each by a new referred buyer, ready to send."""
        from django.conf import settings
        from django.test import Client

        posts = []
        for _user, session in self.seeder.make_buyers(PROFILE_POSTS):
            client = Client()
            client.cookies[settings.SESSION_COOKIE_NAME] = session
            page = client.get(path)
            token = re.search(r'name="token" value="([0-9a-f]{32})"', page.text).group(1)

            # Encoded as the browser sends the form (and as the HTTP load
            # below does), not as the test client's multipart default.
            body = urllib.parse.urlencode({"token": token, "credits": 0, "action": "pay", **CARD})

            def post(client=client, body=body):
                response = client.post(path, body, content_type=FORM_ENCODED)
                if response.status_code != 302:
                    raise RuntimeError(f"checkout POST answered {response.status_code} in-process")

            posts.append(post)
        return posts

    def profiled(self, name: str, requests: list) -> Profile:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(profiled, {name: requests})[name]
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        self.args.out.mkdir(parents=True, exist_ok=True)
        self.profile_count = getattr(self, "profile_count", 0) + 1
        path = self.args.out / f"profile-{self.profile_count}.txt"
        stats.dump_stats(path.with_suffix(".pstats"))  # for pstats' own browser
        path.write_text(f"{name}\n\n{out.getvalue()}")
        progress(f"profile of {name} written to {path}")
        return result

    def measure_checkout_post(self, size: float, name: str, path: str, profile: Profile) -> Row:
        """A referred user's first purchase by card: the award path. One buyer per POST."""
        from purchases.models import Purchase
        from referral_site.batching import batched

        args = self.args
        progress(f"{size:g}x {name}: preparing buyers")
        per_level = args.post_requests
        buyers = self.seeder.make_buyers(per_level * len(args.clients))
        prepared = self.prepare_posts(path, buyers)
        loads = {}
        for level, clients in enumerate(args.clients):
            batch = prepared[level * per_level : (level + 1) * per_level]
            progress(f"{size:g}x {name}: {clients} client(s)")

            def make_request(n, batch=batch):
                return batch[n]

            loads[clients] = run_load(
                self.port,
                make_request,
                clients=clients,
                max_requests=len(batch),
                time_limit=args.time_limit,
                expected=302,
            )
        # Every POST that answered as expected must have taken the award path.
        awarded = sum(
            Purchase.objects.filter(user_id__in=ids, referral_credit_awarded=True).count()
            for ids in batched([user.pk for user, _ in buyers])
        )
        answered = sum(len(load.latencies) for load in loads.values())
        if awarded != answered:
            raise RuntimeError(f"{answered} checkout POSTs answered but {awarded} awarded credits")
        return Row(name, profile, loads)

    def prepare_posts(self, path: str, buyers: list[tuple]) -> list[tuple]:
        """GET each buyer's checkout page over HTTP (untimed): token and cookies for the POST."""
        prepared = [None] * len(buyers)
        lock = threading.Lock()
        queue = list(enumerate(buyers))

        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    n, (_user, session) = queue.pop()
                status, body, set_cookies = http_get(self.port, path, {"sessionid": session})
                if status != 200:
                    raise RuntimeError(f"checkout GET answered {status}")
                token = re.search(r'name="token" value="([0-9a-f]{32})"', body).group(1)
                csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1)
                cookies = {"sessionid": session, **set_cookies}
                body = urllib.parse.urlencode(
                    {
                        "csrfmiddlewaretoken": csrf,
                        "token": token,
                        "credits": 0,
                        "action": "pay",
                        **CARD,
                    }
                )
                headers = {
                    "Cookie": cookie_header(cookies),
                    "Content-Type": FORM_ENCODED,
                }
                prepared[n] = ("POST", path, body, headers)

        threads = [threading.Thread(target=worker) for _ in range(min(8, len(buyers)) or 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if any(p is None for p in prepared):
            raise RuntimeError("could not prepare every checkout POST")
        return prepared

    # -- report --------------------------------------------------------------

    def report(self) -> str:
        from importlib.metadata import version

        import django

        args = self.args
        clients = args.clients
        lines = [
            f"# Benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
            "",
            f"- Machine: {os.cpu_count()} CPUs ({platform.machine()}), "
            f"Python {platform.python_version()}, Django {django.get_version()}",
            f"- Site: gunicorn, {args.workers} sync workers, settings.local with DEBUG off",
            f"- Database: embedded memory engine (mongoeco {version('mongoeco')}) on loopback, "
            f"one process; everything (database, site, clients) shares the CPUs",
            f"- Clients: {', '.join(map(str, clients))} threads in one process; each "
            f"measurement stops at {args.requests} requests (checkout POST: "
            f"{args.post_requests}, one buyer each) or {args.time_limit:g} s",
            f"- Latency: p50 and p95 with 1 client over HTTP. DB commands, app ms and DB ms: "
            f"in-process through Django's test client, {PROFILE_SAMPLES} requests per page "
            f"({PROFILE_POSTS} checkout POSTs), lower quartiles; commands are a range when they "
            "differ",
            "- app ms: wall time minus DB ms (the commands' durations from the driver's "
            "listener) and pay ms (waiting for the payment provider, here the Stripe emulator)",
            f"- **Projected ms on a real MongoDB** (a projection, not a measurement): app ms + "
            f"DB commands x {REAL_MONGODB_MS_PER_COMMAND} ms; **x floor** divides it by the "
            f"framework floor's projection (/_floor/: the layout alone, signed in)",
            f"- Scale {args.scale:g}; migrate took {self.migrate_seconds:.1f} s; "
            f"code: {git_describe()}",
            "",
            "## Data sets",
            "",
            "| size | users | referrals | purchases | products | ledger entries | seeding |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for size, counts, seconds in self.sizes_table:
            lines.append(
                f"| {size:g}x | {counts['users']:,} | {counts['referrals']:,} | "
                f"{counts['purchases']:,} | {counts['products']:,} | "
                f"{counts['ledger']:,} | {seconds:.1f} s |"
            )
        lines.append("")
        lines.append(
            "Sizes after the first are topped up from the one before (the seeding "
            "time is the top-up); buyers made by the previous size's checkout "
            "measurement stay in the data."
        )
        for size, rows in self.results.items():
            ceiling = rows[0].loads
            floor = rows[1].profile.projected_ms
            lines += [
                "",
                f"## {size:g}x",
                "",
                "| request | DB commands | app ms | DB ms | pay ms | projected ms | x floor "
                "| p50 ms | p95 ms | "
                + " | ".join(f"req/s @{c}" for c in clients)
                + " | % of /livez @"
                + "/".join(map(str, clients))
                + " | errors |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
                + "---:|" * len(clients)
                + "---:|---:|",
            ]
            for row in rows:
                one = row.loads[clients[0]] if 1 not in row.loads else row.loads[1]
                shares = "/".join(percent(row.loads[c].rps, ceiling[c].rps) for c in clients)
                errors = sum(load.errors for load in row.loads.values())
                profile = row.profile
                lines.append(
                    f"| {row.page} | {commands_text(row.commands)} | "
                    f"{profile.app_ms:.1f} | {profile.db_ms:.1f} | {profile.pay_ms:.1f} | "
                    f"{profile.projected_ms:.1f} | "
                    f"{profile.projected_ms / floor:.2f} | "
                    f"{one.percentile(0.5) * 1000:.1f} | {one.percentile(0.95) * 1000:.1f} | "
                    + " | ".join(f"{row.loads[c].rps:.1f}" for c in clients)
                    + f" | {shares} | {errors} |"
                )
        if len(self.results) > 1:
            sizes = list(self.results)
            low, high = sizes[0], sizes[-1]
            mid = clients[len(clients) // 2]
            lines += [
                "",
                f"## Growth from {low:g}x to {high:g}x",
                "",
                f"| request | DB commands | app ms | DB ms | p50 ms | req/s @{mid} |",
                "|---|---|---|---|---|---|",
            ]
            for a, b in zip(self.results[low], self.results[high], strict=True):
                one_a = a.loads.get(1, a.loads[clients[0]])
                one_b = b.loads.get(1, b.loads[clients[0]])
                lines.append(
                    f"| {a.page} | {commands_text(a.commands)} → {commands_text(b.commands)} | "
                    f"{a.profile.app_ms:.1f} → {b.profile.app_ms:.1f} "
                    f"({ratio(b.profile.app_ms, a.profile.app_ms)}) | "
                    f"{a.profile.db_ms:.1f} → {b.profile.db_ms:.1f} "
                    f"({ratio(b.profile.db_ms, a.profile.db_ms)}) | "
                    f"{one_a.percentile(0.5) * 1000:.1f} → {one_b.percentile(0.5) * 1000:.1f} "
                    f"({ratio(one_b.percentile(0.5), one_a.percentile(0.5))}) | "
                    f"{a.loads[mid].rps:.1f} → {b.loads[mid].rps:.1f} "
                    f"({ratio(b.loads[mid].rps, a.loads[mid].rps)}) |"
                )
        return "\n".join(lines) + "\n"


def git_describe() -> str:
    """The commit measured, and whether the work tree had changes (read-only git)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit or 'unknown'}{' with local changes' if dirty else ''}"


def profiled(requests: dict) -> dict:
    """Run each request in-process, timing it and its database commands: {name: Profile}.

    ``requests`` maps a name to its list of calls; the calls run in rounds,
    one of each name per round while it has any left.

    Application time is the request's wall time minus the durations the
    driver's command listener reports (send to reply), so it holds the
    framework's and our Python, pymongo's encoding included; the database
    time is what a faster or nearer server would shrink. Time spent waiting
    for the payment provider (the Stripe emulator's HTTP answers, timed around
    the gateway's calls) is neither: it is reported on its own and left out.
    """
    import statistics

    from purchases.gateways import StripeGateway
    from referral_site.db_monitoring import count_commands

    paying = []  # ms of each payment provider call in the current request
    call = StripeGateway._call

    def timed_call(gateway, what, request):
        started = time.perf_counter()
        try:
            return call(gateway, what, request)
        finally:
            paying.append((time.perf_counter() - started) * 1000)

    samples = {name: ([], [], [], []) for name in requests}  # commands, app, db, pay
    rounds = max(len(calls) for calls in requests.values())
    StripeGateway._call = timed_call
    try:
        for n in range(rounds):
            for name, calls in requests.items():
                if n >= len(calls):
                    continue
                paying.clear()
                with count_commands() as log:
                    started = time.perf_counter()
                    calls[n]()
                    wall_ms = (time.perf_counter() - started) * 1000
                counts, app, db, pay = samples[name]
                counts.append(len(log))
                db.append(log.total_ms)
                pay.append(sum(paying))
                app.append(wall_ms - log.total_ms - sum(paying))
    finally:
        StripeGateway._call = call

    def lower_quartile(values):
        return statistics.quantiles(values, n=4)[0] if len(values) > 1 else values[0]

    return {
        name: Profile(counts, lower_quartile(app), lower_quartile(db), lower_quartile(pay))
        for name, (counts, app, db, pay) in samples.items()
    }


def commands_text(counts: list[int]) -> str:
    low, high = min(counts), max(counts)
    return str(high) if low == high else f"{low}–{high}"


def percent(part: float, whole: float) -> str:
    if not whole:
        return "-"
    share = 100 * part / whole
    return f"{share:.1f}" if share < 10 else f"{share:.0f}"


def ratio(new: float, old: float) -> str:
    if not old or old != old or new != new:  # zero or NaN
        return "-"
    return f"×{new / old:.2f}"


# --------------------------------------------------------------------------
# gunicorn
# --------------------------------------------------------------------------


class Gunicorn:
    """gunicorn on a free loopback port, on the benchmark's database."""

    def __init__(self, workers: int):
        from referral_site.embedded import free_port

        self.workers = workers
        self.port = free_port()
        self.log_path = RESULTS / "gunicorn.log.tmp"

    def __enter__(self):
        RESULTS.mkdir(parents=True, exist_ok=True)
        self.log = self.log_path.open("wb")
        env = {**os.environ, "GUNICORN_MAX_REQUESTS": "0"}  # no worker restarts mid-run
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "--workers",
                str(self.workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--access-logfile",
                "/dev/null",
                "--no-control-socket",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if http_get(self.port, "/livez", {})[0] == 200:
                    progress(f"gunicorn up on port {self.port} with {self.workers} workers")
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.__exit__(None, None, None)
        raise RuntimeError(f"gunicorn did not start; see {self.log_path}")

    def __exit__(self, *exc):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return False


if __name__ == "__main__":
    sys.exit(main())

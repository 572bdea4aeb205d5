"""Operations per second of the embedded server for three basic operations.

    .venv/bin/python bench/embedded_ops.py [--n 2000] [--engine memory|sqlite]

A find by a unique field, an insert, and a conditional update (the shape the
credit services use), each through pymongo against a fresh embedded server.
"""

import argparse
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from pymongo import MongoClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from referral_site import embedded  # noqa: E402


@contextmanager
def embedded_server(engine: str):
    """A fresh embedded server of the engine ("memory" or "sqlite"), its URI; stopped after."""
    if engine == "memory":
        server = embedded.start_ephemeral()
        uri, stop = server.uri, server.stop
    else:
        data_dir = Path(tempfile.mkdtemp(prefix="embedded-bench-"))
        uri = embedded.ensure_running(data_dir, port=embedded.free_port())
        stop = lambda: embedded.stop(data_dir)  # noqa: E731
    try:
        yield uri
    finally:
        stop()


def measure(n: int, engine: str) -> dict[str, float]:
    with embedded_server(engine) as uri:
        with MongoClient(uri) as client:
            users = client.bench.users
            users.create_index("referralCode", unique=True)
            started = time.perf_counter()
            for i in range(n):
                users.insert_one({"referralCode": f"C{i:07d}", "credits": 100})
            insert = n / (time.perf_counter() - started)
            started = time.perf_counter()
            for i in range(n):
                users.find_one({"referralCode": f"C{i % n:07d}"})
            find = n / (time.perf_counter() - started)
            started = time.perf_counter()
            for i in range(n):
                users.update_one(
                    {"referralCode": f"C{i % n:07d}", "credits": {"$gte": 1}},
                    {"$inc": {"credits": -1}},
                )
            update = n / (time.perf_counter() - started)
    return {"find by unique field": find, "insert": insert, "conditional update": update}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--engine", choices=("memory", "sqlite"), default="memory")
    args = parser.parse_args()
    results = measure(args.n, args.engine)
    print(f"| operation ({args.engine} engine, {args.n} each, 1 client) | ops/s |")
    print("|---|---|")
    for name, rate in results.items():
        print(f"| {name} | {rate:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# The README's commands. Each target installs what it needs first.
PY := .venv/bin/python

.PHONY: setup run test lint bench chromium axe

setup:
	@scripts/bootstrap

# Debian's Chromium for the browser tests (tests/e2e/); installed when missing.
chromium:
	@scripts/ensure-chromium

# axe-core (package.json, pinned in package-lock.json), injected into every page
# by the browser tests' accessibility check; installed by npm ci when missing.
axe:
	@scripts/ensure-axe

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

test: setup lint chromium axe
	$(PY) -m pytest

# Style, formatting, and the apps' dependency order (import-linter contracts in pyproject.toml).
lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports

# Benchmarks (bench/README.md): its own embedded database and gunicorn.
bench: setup
	$(PY) bench/run.py $(BENCH_ARGS)

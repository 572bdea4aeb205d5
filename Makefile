# The README's commands. Each target installs what it needs first.
PY := .venv/bin/python

.PHONY: setup run test lint bench

setup:
	@scripts/bootstrap

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

test: setup lint
	$(PY) -m pytest

lint: setup
	.venv/bin/ruff check .

"""run_atomically: a failed transaction falls back to the transaction-free path.

No real transaction is opened here (the embedded server must never see one):
the deployment's answer and the backend's atomic() are replaced.
"""

from contextlib import contextmanager

import pytest
from pymongo.errors import DuplicateKeyError

from referral_site import transactions


@pytest.fixture
def replica_set(monkeypatch):
    opened = []

    @contextmanager
    def fake_atomic(using="default"):
        opened.append(using)
        yield

    monkeypatch.setattr(transactions, "transactions_supported", lambda using="default": True)
    monkeypatch.setattr(transactions.mongo_transaction, "atomic", fake_atomic)
    return opened


def test_a_step_runs_inside_the_transaction_when_it_succeeds(replica_set):
    calls = []

    result = transactions.run_atomically(lambda: calls.append("run") or "done")

    assert (result, calls, replica_set) == ("done", ["run"], ["default"])


def test_an_aborted_transaction_is_answered_by_one_run_without_it(replica_set):
    calls = []

    def step():
        calls.append("run")
        if len(calls) == 1:
            raise DuplicateKeyError("E11000 duplicate key: already recorded")
        return "already done"

    assert transactions.run_atomically(step) == "already done"
    assert calls == ["run", "run"]


def test_a_real_error_is_raised_from_the_second_run(replica_set):
    def step():
        raise DuplicateKeyError("E11000 always")

    with pytest.raises(DuplicateKeyError):
        transactions.run_atomically(step)


def test_without_transactions_the_step_just_runs(db):
    assert transactions.run_atomically(lambda: 42) == 42

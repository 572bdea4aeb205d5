"""What one run of ``manage.py reconcile_credits`` shares between the apps' repairs.

Each app finds and repairs its own data (credits.reconcile, referrals.reconcile,
purchases.reconcile); the command at the top runs them in order and prints
one line per finding. Only what has been quiet since ``cutoff`` is touched:
anything younger may be a step that is still running and will finish by itself.
"""

from dataclasses import dataclass, field
from datetime import datetime

SHOWN_ITEMS = 10


@dataclass
class Finding:
    label: str
    items: list = field(default_factory=list)
    # Found but not repaired in this run (something moved meanwhile): run again.
    unfixed: list = field(default_factory=list)

    def line(self) -> str:
        items = self.items
        if not items:
            return f"{self.label}: 0"
        shown = ", ".join(str(i) for i in items[:SHOWN_ITEMS])
        more = ", ..." if len(items) > SHOWN_ITEMS else ""
        return f"{self.label}: {len(items)} ({shown}{more})"


@dataclass
class RepairRun:
    fix: bool
    cutoff: datetime
    # Users in the middle of a purchase: their balances are left alone.
    busy_users: set = field(default_factory=set)
    findings: list[Finding] = field(default_factory=list)

    def finding(self, label: str) -> Finding:
        found = Finding(label)
        self.findings.append(found)
        return found

    @property
    def problems(self) -> int:
        return sum(len(f.items) for f in self.findings)

    @property
    def unfixed(self) -> int:
        return sum(len(f.unfixed) for f in self.findings)

    def lines(self) -> list[str]:
        return [f.line() for f in self.findings]

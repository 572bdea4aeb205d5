"""Deployment checks of the site's infrastructure (`manage.py check --deploy`)."""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.checks import Warning, register


def names_replica_set(uri: str) -> bool:
    """Does the connection string name a replica set (or is it an SRV record, Atlas's form)?

    Parsed without a DNS lookup: ``mongodb+srv://`` URIs get their replica set
    from DNS TXT records, which Atlas always publishes.
    """
    parts = urlsplit(uri)
    if parts.scheme == "mongodb+srv":
        return True
    options = {key.lower(): values for key, values in parse_qs(parts.query).items()}
    return bool(options.get("replicaset", [""])[0])


@register(deploy=True)
def replica_set_check(app_configs, **kwargs):
    """A single server: no failover, and no multi-document transactions."""
    uri = getattr(settings, "MONGODB_URI", "")
    if not uri or names_replica_set(uri):
        return []
    return [
        Warning(
            "MONGODB_URI names no replica set: one server is a single point of failure, and "
            "the purchase steps run without multi-document transactions.",
            hint="Use a replica set (add ?replicaSet=<name>) or Atlas (mongodb+srv://); a "
            "sharded cluster's mongos needs no replicaSet: then silence referral_site.W001 "
            "with SILENCED_SYSTEM_CHECKS. README, Deploying.",
            id="referral_site.W001",
        )
    ]

"""Checks of the `matching:` section beyond its models (SPEC §19)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

from sfa_rules.config.loader import SourceMap
from sfa_rules.config.matching import ignored_domain
from sfa_rules.config.models import Config
from sfa_rules.errors import Problem

__all__ = ["CHECKS"]

_DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")


def ignored_domains(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``invalid-value``: an `ignore_domains` entry that is no domain (a URL, a
    wildcard, a bare word), which would ignore nothing: say the domain to write."""
    accounts = config.matching.accounts if config.matching else None
    for i, written in enumerate(accounts.ignore_domains if accounts else ()):
        domain = ignored_domain(written)
        if _DOMAIN.fullmatch(domain):
            continue
        try:
            host = urlsplit(domain if "://" in domain else "//" + domain).hostname or ""
        except ValueError:
            host = ""
        host = host.removeprefix("*.").removeprefix("www.")
        hint = f": write {host}" if _DOMAIN.fullmatch(host) else \
            " (write a domain, such as partner.com; its subdomains are ignored with it)"
        yield sm.problem(("matching", "accounts", "ignore_domains", i), "invalid-value",
                         f"matching.accounts.ignore_domains: '{written}' is no domain{hint}")


def repeated_keys(config: Config, sm: SourceMap) -> Iterator[Problem]:
    """``repeated-key`` (warning): a key listed twice in `accounts.keys` or
    `duplicates.keys` (tried once: the second changes nothing)."""
    for section in ("accounts", "duplicates"):
        part = getattr(config.matching, section, None) if config.matching else None
        seen: set[str] = set()
        for i, key in enumerate(part.keys if part else ()):
            if key in seen:
                yield sm.problem(("matching", section, "keys", i), "repeated-key",
                                 f"matching.{section}.keys: '{key}' is listed twice",
                                 "warning")
            seen.add(key)


CHECKS = (ignored_domains, repeated_keys)

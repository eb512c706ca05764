"""The `matching:` section: lead-to-account matching and duplicate leads (SPEC §19).

Frozen models on the shared base (``models`` imports them into ``ConfigFile``), and
the shipped list of free-mail domains, which no domain key ever matches on and which
``accounts.ignore_domains`` extends.
"""

from __future__ import annotations

import inspect
import textwrap
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from sfa_rules.config.base import Model, OneOrList

# Free-mail and ISP domains: an address there says nothing about the company.
FREE_MAIL: tuple[str, ...] = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de",
    "yahoo.es", "yahoo.it", "yahoo.com.br", "yahoo.com.mx", "yahoo.co.jp", "yahoo.co.in",
    "ymail.com", "rocketmail.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr",
    "hotmail.de", "hotmail.es", "hotmail.it", "outlook.com", "outlook.fr", "outlook.de",
    "outlook.es", "live.com", "live.co.uk", "live.fr", "msn.com", "passport.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "aim.com", "proton.me",
    "protonmail.com", "protonmail.ch", "pm.me", "gmx.com", "gmx.de", "gmx.net", "gmx.at",
    "gmx.ch", "web.de", "t-online.de", "freenet.de", "mail.com", "email.com",
    "mail.ru", "bk.ru", "inbox.ru", "list.ru", "yandex.ru", "yandex.com", "ya.ru",
    "rambler.ru", "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sohu.com",
    "aliyun.com", "naver.com", "daum.net", "hanmail.net", "zoho.com", "zohomail.com",
    "tutanota.com", "tuta.io", "fastmail.com", "hushmail.com", "mailinator.com",
    "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "libero.it",
    "virgilio.it", "tiscali.it", "terra.com.br", "uol.com.br", "bol.com.br", "ig.com.br",
    "seznam.cz", "wp.pl", "o2.pl", "interia.pl", "onet.pl", "rediffmail.com",
    "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
    "charter.net", "earthlink.net", "btinternet.com", "sky.com", "shaw.ca", "rogers.com",
    "sympatico.ca", "bigpond.com", "optusnet.com.au",
)
COMPANY_SUFFIXES: tuple[str, ...] = (
    "inc", "llc", "ltd", "gmbh", "sa", "sas", "srl", "corp", "corporation", "co", "plc",
)
AccountKey = Literal["email_domain", "website_domain", "company"]
DuplicateKey = Literal["email", "email_domain", "website_domain", "company", "phone"]


def _as_list(value: Any) -> Any:
    """Let a single value stand for a one-item list (``keys: email``)."""
    return [value] if isinstance(value, str) else value


_ONE_OR_LIST = OneOrList(_as_list)


Domain = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def ignored_domain(written: str) -> str:
    """An `ignore_domains` entry as keys compare it: lower case, without a leading `@`
    or `www.`."""
    return written.strip().lower().lstrip("@").removeprefix("www.")


class Accounts(Model):
    """Lead-to-account matching: a new lead (not known, not arriving with an owner) whose
    key equals a known customer's takes that customer's owner and territory
    (`assigned_by: account:<customer id>`), before overrides and territories. A known
    customer is a record in the state or earlier in the run whose status is of stage
    `customer` and that has an owner. Several customers on one key: the one with the
    most recent activity, then the earliest created, then the first known."""

    keys: Annotated[list[AccountKey], _ONE_OR_LIST] = Field(
        ["email_domain", "website_domain", "company"], min_length=1,
        description="Keys tried in this order; the first that matches a known customer wins. `email_domain`: the part of `email` after `@`; `website_domain`: the host of `website` (bare, or a URL with scheme, port, path) without `www.`; both lower case, and the two domain keys find each other (a lead's e-mail domain matches a customer's website domain); `company`: the company name folded (case, accents, punctuation, `company_suffixes` and blanks removed: \"ACME, Inc.\" = \"Acme\", \"AT&T\" = \"ATT\").",
    )
    ignore_domains: Annotated[list[Domain], _ONE_OR_LIST] = Field(
        default_factory=list,
        description="Domains that never match (your own, a reseller's), added to the shipped free-mail list above: it extends the list, it cannot shorten it; a domain's subdomains are ignored with it.",
    )
    company_suffixes: Annotated[list[Domain], _ONE_OR_LIST] = Field(
        list(COMPANY_SUFFIXES),
        description="Legal suffixes removed from the end of company names, folded like the names (`S.A.` is `sa`); the list given replaces this default.",
    )


# cleandoc first: CPython 3.13 strips docstring indentation at compile time, 3.11 does not.
Accounts.__doc__ = inspect.cleandoc(Accounts.__doc__ or "") + "\n\n" + textwrap.fill(
    "The shipped free-mail list (never a company): " + ", ".join(FREE_MAIL) + ".", 84)


class Duplicates(Model):
    """Duplicate leads: a lead whose key equals a known lead's or customer's (any record
    of type lead, prospect or customer, in the state or earlier in the run)."""

    keys: Annotated[list[DuplicateKey], _ONE_OR_LIST] = Field(
        ["email"], min_length=1,
        description="Keys compared, in this order: `email` (the address, ignoring case), `phone` (its digits), `company`, `email_domain`, `website_domain` (folded as for accounts).",
    )
    action: Literal["flag", "merge", "reject"] = Field(
        "flag",
        description="`flag`: decided normally, with the warning `duplicate-of:<id>`; `merge`: the row updates the known record (the decision's `id` is the known id, `merged_from` the row's own); `reject`: a record error `duplicate`.",
    )


class Matching(Model):
    """Account matching and duplicates (normally in `rules/matching.yaml`); without
    this section neither runs."""

    accounts: Accounts | None = Field(None, description="Lead-to-account matching; omit to route every new lead through overrides and territories.")
    duplicates: Duplicates | None = Field(None, description="Duplicate leads; omit to accept every lead as a new record.")

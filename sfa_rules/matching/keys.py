"""Matching keys of one record: domains, folded company names, e-mails, phones (SPEC §19).

``Keys(config)`` compiles the `matching:` section once; ``values(record)`` gives the
record's value of every configured kind (``{"email_domain": "acme.com", ...}``), each
normalised so that equal values mean the same company or person:

- ``email``: the address, trimmed, lower case;
- ``email_domain``: the part of ``email`` after the last ``@``, lower case, without a
  trailing dot;
- ``website_domain``: the host of ``website`` (a bare domain, or a URL with scheme,
  port, path, query), lower case, without ``www.``;
- ``company``: the name folded: accents removed (Unicode NFKD), lower case, ``.`` and
  ``'`` dropped, other punctuation as blanks between words, the legal suffixes at its
  end removed, then the words written together ("ACME, Inc." and "Acme" are ``acme``;
  "AT&T" and "ATT" are ``att``; "Hewlett-Packard" and "Hewlett Packard" one company);
- ``phone``: its digits (at least seven).

A domain in the free-mail list (or a subdomain of one) has no domain key: it never
matches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from sfa_rules.config.matching import FREE_MAIL, Matching, ignored_domain

_DROPPED = re.compile(r"[.'\u2019`]")  # "S.A." is "sa", "O'Neil" is "oneil"
_BLANKS = re.compile(r"[\W_]+")  # other punctuation and blanks separate words
_DIGITS = re.compile(r"\D+")
_HOST = re.compile(r"^[\w-]+(\.[\w-]+)*$")
_PLAIN = re.compile(r"[\w.-]+\Z")
_WORDS = re.compile(r"[A-Za-z0-9 ]*\Z")  # nothing to fold but the case: most names
# A plain URL's host (ASCII, no user, a port of digits at most), read as urlsplit reads
# it: most websites; any other is taken apart by urlsplit.
_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//([a-z0-9_.-]+)(?::[0-9]*)?(?:[/?#]|\Z)")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def fold(name: str) -> list[str]:
    """The words of a name: accents removed, lower case, punctuation dropped."""
    if _WORDS.match(name):
        return name.lower().split()
    plain = name
    if not name.isascii():
        decomposed = unicodedata.normalize("NFKD", name)
        plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _BLANKS.sub(" ", _DROPPED.sub("", plain.casefold())).split()


def email(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text is not None and "@" in text else None


def phone(value: Any) -> str | None:
    text = _text(value)
    digits = _DIGITS.sub("", text) if text is not None else ""
    return digits if len(digits) >= 7 else None


def host(value: Any) -> str | None:
    """A domain as written in a website field or after an e-mail's ``@``."""
    text = _text(value)
    if text is None:
        return None
    text = text.lower()
    url = text if "://" in text else "//" + text.lstrip("/")
    if _PLAIN.match(text):  # a bare domain (most e-mails): no URL to take apart
        name: str | None = text
    elif plain := _URL.match(url):
        name = plain[1]
    else:
        try:
            name = urlsplit(url).hostname
        except ValueError:
            return None
    if not name:
        return None
    name = name.rstrip(".").removeprefix("www.")
    return name if "." in name and _HOST.match(name) else None


class Keys:
    """The key functions of one configuration (compiled once)."""

    def __init__(self, matching: Matching) -> None:
        accounts = matching.accounts
        ignored = [*FREE_MAIL, *(accounts.ignore_domains if accounts else ())]
        self.free = frozenset(ignored_domain(d) for d in ignored)
        suffixes = accounts.company_suffixes if accounts else ()
        by_length: dict[int, set[tuple[str, ...]]] = {}
        for s in suffixes:
            if words := tuple(fold(s)):
                by_length.setdefault(len(words), set()).add(words)
        self.suffixes = tuple(sorted(by_length.items(), reverse=True))  # longest first
        self.ends = frozenset(words[-1] for words in set().union(*by_length.values()))
        kinds: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
            "email": lambda r: email(r.get("email")),
            "phone": lambda r: phone(r.get("phone")),
            "email_domain": self.email_domain,
            "website_domain": self.website_domain,
            "company": lambda r: self.company(r.get("company")),
        }
        wanted = [*(accounts.keys if accounts else ()),
                  *(matching.duplicates.keys if matching.duplicates else ())]
        self.kinds = {k: kinds[k] for k in dict.fromkeys(wanted)}

    def values(self, record: Mapping[str, Any]) -> dict[str, str]:
        """The record's value of each configured kind that it has."""
        out: dict[str, str] = {}
        for kind, make in self.kinds.items():
            value = make(record)
            if value is not None:
                out[kind] = value
        return out

    def fields(self, kind: str) -> str:
        """The record field a kind is read from (for messages)."""
        return {"email_domain": "email", "website_domain": "website"}.get(kind, kind)

    def _domain(self, name: str | None) -> str | None:
        if name is None:
            return None
        free, rest = self.free, name
        while "." in rest:  # the domain and each parent of two labels or more
            if rest in free:
                return None
            rest = rest.partition(".")[2]
        return name

    def email_domain(self, record: Mapping[str, Any]) -> str | None:
        address = email(record.get("email"))
        return self._domain(host(address.rpartition("@")[2])) if address else None

    def website_domain(self, record: Mapping[str, Any]) -> str | None:
        return self._domain(host(record.get("website")))

    def company(self, value: Any) -> str | None:
        text = _text(value)
        if text is None:
            return None
        words = fold(text)
        while words and words[-1] in self.ends:  # most names end in no suffix's word
            for length, suffixes in self.suffixes:
                if length <= len(words) and tuple(words[-length:]) in suffixes:
                    del words[-length:]
                    break
            else:
                break
        return "".join(words) or None  # blanks mean nothing: "AT&T" is "ATT"


def describe(values: Mapping[str, str], kinds: Iterable[str]) -> str:
    """``email_domain 'acme.com', company 'acme'``: what a record offered, for traces."""
    shown = [f"{k} {values[k]!r}" for k in kinds if k in values]
    return ", ".join(shown)

"""The matcher: duplicate leads and lead-to-account matching over the store's index
(SPEC §19).

Every lead, prospect and customer row leaves a `MatchEntry` in the store: its key
values (``Keys``), and the index keys it is listed under: ``d:<kind>:<value>`` for the
duplicate keys, and, while it is an account (a status of stage ``customer`` and an
owner), ``a:<kind>:<value>`` for the account keys. A lookup is one index key: its cost
does not depend on how many records the state knows.

Choices where SPEC §19 is silent (written down in the README too):

- the two domain keys share one index: a lead's e-mail domain matches a customer's
  website domain (or e-mail domain) and the other way round, when both kinds are listed;
- a row's key values update its entry kind by kind: a row without ``website`` keeps
  the website domain an earlier row gave;
- "activity" is the latest date of the activity rows naming the customer (SPEC §18:
  ``date``, else ``created``, else the run's ``--as-of``) and of the ``last_activity``
  its own rows carry; other rows are no activity; "created" is the earliest
  ``created`` its own rows gave (else the ``--as-of`` of the run that first saw it);
  unknown dates rank last, and the record the state knew first wins what dates leave
  tied;
- ``flag`` also flags a known lead whose key equals that of a record known before it
  (so that applying the same input again gives the same warnings); ``merge`` and
  ``reject`` concern new leads only: a known lead is an update of itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

from sfa_rules.config.matching import Matching
from sfa_rules.entities import Customer, MatchEntry, MatchRef
from sfa_rules.errors import RecordError
from sfa_rules.matching.keys import Keys, describe

CUSTOMER_TYPES = frozenset({"lead", "prospect", "customer"})
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


class MatchStore(Protocol):
    """The part of the state store that matching reads and writes."""

    def get_customer(self, id: str) -> Customer | None: ...
    def get_match(self, id: str) -> MatchEntry | None: ...
    def put_match(self, entry: MatchEntry, old: MatchEntry | None) -> None: ...
    def find_match(self, key: str) -> list[MatchRef]: ...
    def match_seq(self) -> int: ...


class Screened(NamedTuple):
    """What the duplicate check says of a lead row."""

    merge_into: str | None = None  # merge: the known record the row updates
    warnings: tuple[str, ...] = ()
    trace: dict[str, Any] | None = None


class AccountMatch(NamedTuple):
    """The known customer a new lead goes to."""

    customer: str
    owner: str | None
    territory: str | None


def key_space(kind: str) -> str:
    """The index a kind of account key is looked up in: a lead's e-mail domain finds
    a customer's website domain, and the other way round."""
    return "domain" if kind in ("email_domain", "website_domain") else kind


def _day(value: Any) -> str | None:
    text = str(value).strip()[:10] if value is not None else ""
    return text if _ISO.fullmatch(text) else None


class Matcher:
    """Matching for one configuration (compiled once)."""

    def __init__(
        self, matching: Matching, stage: Callable[[str], str | None], keep_existing_owner: bool
    ) -> None:
        self.keys = Keys(matching)
        self.account_kinds = tuple(matching.accounts.keys) if matching.accounts else ()
        duplicates = matching.duplicates
        self.duplicate_kinds = tuple(duplicates.keys) if duplicates else ()
        self.action = duplicates.action if duplicates else None
        # the index keys' prefixes, kind by kind (``d:email:``, ``a:domain:``)
        self._duplicate_keys = tuple((k, f"d:{k}:") for k in self.duplicate_kinds)
        self._account_keys = tuple((k, f"a:{key_space(k)}:") for k in self.account_kinds)
        self.stage = stage
        self.keep_existing_owner = keep_existing_owner
        self._last: tuple[Mapping[str, Any] | None, dict[str, str]] = (None, {})

    def values(self, record: Mapping[str, Any]) -> dict[str, str]:
        """The record's key values (computed once per row: every step asks)."""
        last, values = self._last
        if last is not record:
            values = self.keys.values(record)
            self._last = (record, values)
        return values

    # -- duplicates ----------------------------------------------------------------

    def screen(self, cid: str, record: Mapping[str, Any], known: bool,
               store: MatchStore) -> Screened:
        """The duplicate check of a lead row; raises ``RecordError("duplicate")`` when
        the action is ``reject``."""
        if not self.duplicate_kinds or (known and self.action != "flag"):
            return Screened()
        own = store.get_match(cid) if known else None
        values = self.values(record)
        for kind in self.duplicate_kinds:
            value = values.get(kind)
            if value is None:
                continue
            earlier = [r for r in store.find_match(f"d:{kind}:{value}")
                       if r.id != cid and (own is None or r.seq < own.seq)]
            if not earlier:
                continue
            first = min(earlier, key=lambda e: e.seq).id
            trace = {"step": "duplicate", "key": kind, "value": value, "of": first,
                     "action": self.action}
            if self.action == "reject":
                raise RecordError(
                    "duplicate",
                    f"duplicate of {first!r}: the same {kind} {value!r} "
                    "(matching.duplicates.action: reject)",
                    field=self.keys.fields(kind),
                )
            if self.action == "merge":
                return Screened(first, (), trace)
            return Screened(None, (f"duplicate-of:{first}",), trace)
        return Screened()

    # -- accounts ------------------------------------------------------------------

    def account(
        self, record: Mapping[str, Any], original_owner: Any, store: MatchStore,
        trace: list[dict[str, Any]] | None,
    ) -> AccountMatch | None:
        """The known customer a new lead's keys match, if any (None also when the lead
        keeps the owner it arrived with: kept comes first)."""
        if not self.account_kinds or (self.keep_existing_owner and original_owner is not None):
            return None
        values = self.values(record)
        for kind in self.account_kinds:
            value = values.get(kind)
            if value is None:
                continue
            best, others = self._best(store.find_match(f"a:{key_space(kind)}:{value}"), store)
            if best is None:
                continue
            if trace is not None:
                trace.append({
                    "step": "account", "matched": True, "key": kind, "value": value,
                    "customer": best.id, "owner": best.owner, "territory": best.territory,
                    "others": others,
                })
            return AccountMatch(best.id, best.owner, best.territory)
        if trace is not None:
            tried = describe(values, self.account_kinds)
            why = (f"no known customer with {tried}" if tried else
                   f"the lead has no account key ({', '.join(self.account_kinds)})")
            trace.append({"step": "account", "matched": False, "why": why})
        return None

    def _best(self, refs: list[MatchRef], store: MatchStore) -> tuple[Customer | None, list[str]]:
        """The best account among ``refs`` (the most recent activity, then the earliest
        created, then the first known) and the ids of the others, best first. The index
        lists a record under its account keys only while it is an account; the best is
        checked all the same (a configuration may have changed its status's stage), and
        the next one tried when it fails: one read for a hit, however many share it."""
        refs = sorted(refs, key=lambda r: (r.created is None, r.created or "", r.seq))
        refs.sort(key=lambda r: r.activity or "", reverse=True)  # stable: ties keep order
        for i, ref in enumerate(refs):
            customer = store.get_customer(ref.id)
            if customer is not None and customer.owner is not None \
                    and self.stage(customer.status) == "customer":
                return customer, [r.id for r in refs[i + 1:]]
        return None, []

    # -- after a row -----------------------------------------------------------------

    def remember(
        self, rtype: str | None, record: Mapping[str, Any], id: str | None, stage: str | None,
        owner: str | None, as_of: str | None, store: MatchStore,
    ) -> None:
        """Update the entry of the record a decided row concerns: ``id`` is the lead,
        prospect or customer the row decided (its own row), or the customer a
        transaction named; ``stage`` and ``owner`` are that record's after the row."""
        own = rtype in CUSTOMER_TYPES
        if id is None or not (own or self.account_kinds):
            return
        old = store.get_match(id)
        if own:  # this row's values over the earlier rows' (Keys.values gives a new dict)
            mine = self.values(record)
            values = {**old.values, **mine} if old is not None else mine
        else:
            values = dict(old.values) if old is not None else {}
        if old is None and not values:
            return  # nothing to find it by
        get = record.get
        born = _day(get("created"))
        # Activity (SPEC §18): an activity row's date (else the run's), or the date a
        # record's own row says its last activity was; no other row is one.
        day = (_day(get("date")) or born or as_of) if rtype == "activity" else \
            _day(get("last_activity")) if own else None
        created = old.created if old is not None else None
        if own:
            born = born or (as_of if old is None else None)
            created = min(created, born) if created and born else created or born or None
        last = old.activity if old is not None else None
        activity = max(last, day) if last and day else last or day or None
        keys = tuple(prefix + values[k] for k, prefix in self._duplicate_keys if k in values)
        if stage == "customer" and owner is not None:  # an account: found by its keys too
            keys += tuple(dict.fromkeys(
                prefix + values[k] for k, prefix in self._account_keys if k in values))
        if old is None:
            store.put_match(MatchEntry(id, values, keys, created, activity, store.match_seq()),
                            None)
            return
        entry = MatchEntry(id, values, keys, created, activity, old.seq)
        if entry != old:
            store.put_match(entry, old)

"""The configuration as frozen, typed data (SPEC §2-§7).

Each model's field descriptions double as the configuration reference
(``docs/configuration.md`` is generated from them) and as the JSON Schema that
``sfa schema`` prints for editors. Criteria blocks stay plain mappings here: the
criteria compiler checks them, with their positions, when it compiles them.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from sfa_rules.config.base import ONE_OR_LIST, Id, IdList, Model, Value
from sfa_rules.config.followups import FollowUp
from sfa_rules.config.imports import Import
from sfa_rules.config.matching import Matching

Stage = Literal["lead", "prospect", "customer"]
StageList = Annotated[list[Stage], ONE_OR_LIST]
Probability = int | float
Criteria = dict[str, Any]
Event = Literal[
    "opportunity.created",
    "opportunity.updated",
    "opportunity.won",
    "opportunity.lost",
    "estimate.created",
    "sales_order.created",
    "invoice.created",
    "cash_sale.created",
]
DefaultSlot = Literal[
    "new_lead", "new_prospect", "prospect_with_opportunity", "prospect_with_estimate", "customer"
]
STAGES: tuple[Stage, ...] = ("lead", "prospect", "customer")
EVENTS: tuple[str, ...] = Event.__args__  # type: ignore[attr-defined]
# SPEC §18: an activity row raises activity.<kind>, a contact row contact.created
ACTIVITY_KINDS: tuple[str, ...] = ("call", "meeting", "task", "email", "note")
CONTACT_EVENT = "contact.created"


def _event(value: str) -> str:
    """An event a row can raise; ``activity.<kind>`` is checked against the kinds later
    (`settings.activity_kinds` may be in another file)."""
    if value in EVENTS or value == CONTACT_EVENT or (
            value.startswith("activity.") and len(value) > len("activity.")):
        return value
    choices = ", ".join(repr(e) for e in (*EVENTS, "activity.<kind>", CONTACT_EVENT))
    raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": choices})


EventName = Annotated[str, AfterValidator(_event)]
DEFAULT_SLOTS: tuple[str, ...] = DefaultSlot.__args__  # type: ignore[attr-defined]


# -- settings ---------------------------------------------------------------

ANALYSIS_LIMIT = 2_000_000  # box comparisons: about a second of analysis


class Settings(Model):
    """Features, field aliases and matching options."""

    opportunities: bool = Field(True, description="The Opportunities feature: opportunity rows and `opportunity.*` transitions.")
    estimates: bool = Field(True, description="The Estimates feature: estimate rows and `estimate.created` transitions.")
    case_sensitive: bool = Field(False, description="Compare strings (and regexes) with their case; default: ignore it (a regex runs with `re.IGNORECASE` on the value as written, so `(?-i:...)` still means what it does in Python). Surrounding blanks are ignored either way (a value of blanks alone is absent).")
    fields: dict[str, IdList] = Field(default_factory=dict, description="Canonical field name -> the names it may have in incoming records (matched ignoring case and surrounding blanks).")
    domains: dict[str, Annotated[list[Value], ONE_OR_LIST]] = Field(default_factory=dict, description="The values a field can take, for the coverage check (`uncovered-values`).")
    activity_kinds: IdList = Field(default_factory=list, description="More kinds of activity rows (besides call, meeting, task, email and note); each raises `activity.<kind>`.")
    known_fields: IdList = Field(default_factory=list, description="More fields records carry, for `unknown-field` (besides the keys of `fields` and `domains`, the fields imports map to and the fields the engine knows).")
    analysis_limit: int = Field(ANALYSIS_LIMIT, ge=0, description="Box comparisons `sfa validate` may spend proving what it can about the territories (and, apart, the overrides): past it, the ones tried later are named `not-analysed` (one note), so that a large plan validates in seconds. Raise it to analyse a large plan completely, at about half a second per million.")


# -- sales rules ------------------------------------------------------------


class SalesRule(Model):
    """A named, reusable criteria block (NetSuite's sales rule)."""

    id: Id = Field(description="Unique id, referenced as `rule: <id>` in criteria and `rules: [...]` in territories.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the rule is for.")
    when: Criteria = Field(description="Criteria (see Criteria below): all entries must hold.")


# -- reps and territories ---------------------------------------------------


class Window(Model):
    """An inclusive date range; either bound may be left open."""

    from_: date | None = Field(None, alias="from", description="First day (inclusive), YYYY-MM-DD.")
    to: date | None = Field(None, description="Last day (inclusive), YYYY-MM-DD.")


class Capacity(Model):
    """How much a rep can own."""

    max_open: int = Field(ge=0, description="At most this many open (lead or prospect stage, not closed) records owned.")


class Rep(Model):
    """A sales rep who can own records."""

    id: Id = Field(description="Unique id, used in territories, overrides and owners.")
    name: str | None = Field(None, description="Display name.")
    email: str | None = Field(None, description="E-mail address.")
    active: bool = Field(True, description="Inactive reps never receive records.")
    capacity: Capacity | None = Field(None, description="Optional limit on open records owned.")
    away: list[Window] = Field(default_factory=list, description="Periods with no new records (by the record's date).")
    manager: Id | None = Field(None, description="The rep this rep reports to (a rep id); `forecast --by manager` rolls opportunities up this chain, which may not loop.")
    team: Id | None = Field(None, description="Team name (text), for `forecast --by team` and team quotas.")
    sells: bool = Field(True, description="`false`: a manager who takes no records (never a territory member, override target or default owner).")

    @property
    def always_eligible(self) -> bool:
        """Active, never away and without a capacity: no date or load can make this rep
        ineligible (assignment checks nothing per record; the analysis counts on them)."""
        return self.active and not self.away and self.capacity is None


class Member(Model):
    """A rep's place in a territory."""

    rep: Id = Field(description="Rep id.")
    weight: int = Field(1, ge=1, description="Share of records under `weighted` distribution.")


class Territory(Model):
    """A prioritised group of criteria whose members get the matching records in turn."""

    id: Id = Field(description="Unique id.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the territory covers.")
    priority: int = Field(100, description="Lower runs first; ties keep file order; a child at its parent's priority runs before it.")
    match: Literal["all", "any"] = Field("all", description="`all`: every named rule and `when` must hold; `any`: one of them.")
    rules: IdList = Field(default_factory=list, description="Named sales rules, by id.")
    when: Criteria | None = Field(None, description="Inline criteria (see Criteria below).")
    parent: Id | None = Field(None, description="Parent territory: the child also requires the parent's criteria.")
    members: list[Member] = Field(default_factory=list, description="The reps who get records, in rotation order.")
    distribution: Literal["round_robin", "weighted", "least_loaded"] = Field("round_robin", description="How members take turns. Its rotation starts again, said in the run's summary, when the members or weights change between runs, or when a round robin becomes weighted; a round robin goes on after a weighted rotation's last pick.")
    active: bool = Field(True, description="Inactive territories never match.")
    effective: Window | None = Field(None, description="Dated realignment: matches only records dated within (inclusive).")
    default: bool = Field(False, description="The catch-all territory (at most one, no criteria), tried after all others.")


# -- assignment -------------------------------------------------------------


class Target(Model):
    """Where an override sends a record: a rep or a territory (exactly one)."""

    rep: Id | None = Field(None, description="A rep id (applies only when the rep is eligible).")
    territory: Id | None = Field(None, description="A territory id (uses its distribution).")


class RepRef(Model):
    """A reference to a rep."""

    rep: Id = Field(description="Rep id.")


class Override(Model):
    """A rule tried before the territories; the first match wins."""

    id: Id = Field(description="Unique id; decisions say `override:<id>`.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the override is for.")
    when: Criteria = Field(description="Criteria (see Criteria below).")
    assign_to: Target = Field(description="`{rep: id}` or `{territory: id}`.")


class Assignment(Model):
    """Assignment policy."""

    applies_to: Annotated[list[Stage], ONE_OR_LIST] = Field(
        ["lead", "prospect", "customer"],
        description="Record types that get an owner.",
    )
    keep_existing_owner: bool = Field(True, description="A record that arrives with an `owner` keeps it.")
    overrides: list[Override] = Field(default_factory=list, description="Tried before territories, in order.")
    default_owner: RepRef | None = Field(None, description="Owner when nothing matches or nobody is eligible; omit to leave such records unassigned.")


# -- lifecycle --------------------------------------------------------------


class Status(Model):
    """A customer status: a stage and a probability (NetSuite's customer status)."""

    id: Id = Field(description="Unique id, e.g. `PROSPECT-Proposal`.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the status means.")
    stage: Stage = Field(description="lead < prospect < customer.")
    probability: Probability = Field(description="0-100; lead-stage statuses must be 0.")
    closed: bool = Field(False, description="No longer open (e.g. LEAD-Dead): does not count toward a rep's load.")


class Defaults(Model):
    """The statuses NetSuite's Sales Preferences give new and converted records. A slot
    left out: a new lead, prospect or customer row without a status gets the first
    status of its stage, in file order; a transition to it is an error (`unset-default`)."""

    new_lead: Id | None = Field(None, description="Status of a new lead that arrives without one.")
    new_prospect: Id | None = Field(None, description="Status of a new prospect that arrives without one.")
    prospect_with_opportunity: Id | None = Field(None, description="Status of a lead converted by an opportunity.")
    prospect_with_estimate: Id | None = Field(None, description="Status of a lead converted by an estimate.")
    customer: Id | None = Field(None, description="Status of a new customer, or one converted by a sale.")


class StatusMatch(Model):
    """Which statuses a transition or manual change starts from (or goes to)."""

    stage: StageList | None = Field(None, description="One stage or a list.")
    status: IdList | None = Field(None, description="One status id or a list.")


class ToDefault(Model):
    """Target a default slot."""

    default: DefaultSlot = Field(description="A slot of `lifecycle.defaults`.")


class ToFollow(Model):
    """Target the status mapped from the most advanced open opportunity."""

    follow: Literal["opportunity"] = Field(description="Only `opportunity`.")


class Transition(Model):
    """An automatic status change fired by an event."""

    id: Id = Field(description="Unique id; decisions name it in `transition`.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the transition does.")
    on: Annotated[list[EventName], ONE_OR_LIST] = Field(description="Events that fire it: `opportunity.created`, `.updated`, `.won`, `.lost`, `estimate.created`, `sales_order.created`, `invoice.created`, `cash_sale.created`, `activity.<kind>` (a kind of `settings.activity_kinds` or call, meeting, task, email, note) or `contact.created`.")
    from_: StatusMatch | None = Field(None, alias="from", description="The customer's current stage and/or status; omit for any.")
    to: Id | ToDefault | ToFollow = Field(description="A status id, `{default: slot}` or `{follow: opportunity}`.")
    when: Criteria | None = Field(None, description="Guard: criteria over the event's record; `customer.*` reads the customer.")


class ManualChange(Model):
    """One allowed manual change (with `allow: listed`)."""

    from_: StatusMatch = Field(alias="from", description="From stage and/or status.")
    to: StatusMatch = Field(description="To stage and/or status.")


class Manual(Model):
    """Which manual status changes are allowed."""

    allow: Literal["any", "forward_only", "listed"] = Field("any", description="any | forward_only (the stage may not decrease) | listed.")
    changes: list[ManualChange] = Field(default_factory=list, description="With `listed`: the allowed changes.")


class Lifecycle(Model):
    """Conversion rules."""

    defaults: Defaults = Field(Defaults(), description="NetSuite's Sales Preferences.")
    transitions: list[Transition] = Field(default_factory=list, description="Tried in file order; the first that matches fires.")
    manual: Manual = Field(Manual(), description="Manual status changes.")


# -- opportunities and forecast ---------------------------------------------


class OpportunityStatus(Model):
    """An opportunity stage with its probability and forecast category."""

    id: Id = Field(description="Unique id, e.g. `Proposal`.")
    name: str | None = Field(None, description="Display name.")
    description: str | None = Field(None, description="What the stage means.")
    probability: Probability = Field(description="0-100.")
    forecast: Literal["closed", "commit", "best_case", "pipeline", "omitted"] = Field(description="Forecast category.")
    customer_status: Id | None = Field(None, description="Customer status a prospect follows to (`{follow: opportunity}`).")
    outcome: Literal["won", "lost"] | None = Field(None, description="Won or lost: raises `opportunity.won`/`.lost`.")


class Forecast(Model):
    """Forecast options."""

    weighted: bool = Field(True, description="Open amounts times probability in the rollups.")
    minimum_probability: Probability = Field(0, description="Open opportunities below it are left out.")
    override: Literal["keep", "reset"] = Field("keep", description="Does a per-opportunity probability survive a change of its status.")


# -- quotas ------------------------------------------------------------------


class Quota(Model):
    """A sales target of one rep, team or manager's organisation for one period."""

    rep: Id | None = Field(None, description="A rep id: the rep's own quota (`--by owner`); on a `sells: false` rep, their organisation's (`--by manager`).")
    team: Id | None = Field(None, description="A team (a `team` of some rep): the team's quota (`--by team`).")
    manager: Id | None = Field(None, description="A rep id: the quota of the organisation under that manager (`--by manager`).")
    period: Id = Field(description="`2017` (a year), `2017-Q1` (a quarter) or `2017-01` (a month).")
    amount: int | float = Field(ge=0, description="The target, in the currency of the amounts; compared with the `closed` rollup (attainment).")


# -- files and the whole configuration --------------------------------------


class ConfigFile(Model):
    """What one YAML file may hold; every key is optional."""

    settings: Settings | None = Field(None, description="Features, field aliases, matching options.")
    sales_rules: list[SalesRule] | None = Field(None, description="Named, reusable criteria.")
    assignment: Assignment | None = Field(None, description="Assignment policy, overrides, default owner.")
    statuses: list[Status] | None = Field(None, description="Customer statuses.")
    lifecycle: Lifecycle | None = Field(None, description="Defaults, transitions, manual changes.")
    opportunity_statuses: list[OpportunityStatus] | None = Field(None, description="Opportunity stages.")
    forecast: Forecast | None = Field(None, description="Forecast options.")
    matching: Matching | None = Field(None, description="Account matching and duplicate leads.")
    reps: list[Rep] | None = Field(None, description="Sales reps.")
    territories: list[Territory] | None = Field(None, description="Territories.")
    imports: list[Import] | None = Field(None, description="How the files of an export read (normally in `rules/imports.yaml`).")
    quotas: list[Quota] | None = Field(None, description="Sales targets per rep, team or manager and period (normally in `territories/quotas.yaml`).")
    follow_ups: list[FollowUp] | None = Field(None, description="What happens to customers left untouched (normally in `rules/follow-ups.yaml`), tried in file order.")


LIST_KEYS = ("sales_rules", "statuses", "opportunity_statuses", "reps", "territories", "imports",
             "quotas", "follow_ups")


class Config(Model):
    """A whole configuration: every file merged (lists concatenated in file order)."""

    settings: Settings = Field(Settings())
    sales_rules: tuple[SalesRule, ...] = ()
    assignment: Assignment = Field(Assignment())
    statuses: tuple[Status, ...] = ()
    lifecycle: Lifecycle = Field(Lifecycle())
    opportunity_statuses: tuple[OpportunityStatus, ...] = ()
    forecast: Forecast = Field(Forecast())
    matching: Matching = Field(Matching())
    reps: tuple[Rep, ...] = ()
    territories: tuple[Territory, ...] = ()
    imports: tuple[Import, ...] = ()
    quotas: tuple[Quota, ...] = ()
    follow_ups: tuple[FollowUp, ...] = ()

"""The monthly budgets that apply to a user: their own (or the default) and their groups' (per
member, and for the group as a whole), read in one statement. Months are calendar months in
UTC. Synchronous (ORM)."""

import calendar
import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group, User
from django.db import connection
from django.utils import timezone

from chatapp.models import (
    Budget,
    GroupPolicy,
)

_OWN, _DEFAULT = 0, -1  # the first column of ``limits_for``'s rows (else a group's id)
_CENT = Decimal("0.01")


@functools.cache
def _limits_sql() -> str:
    """``limits_for``'s statement, written once. It runs before every reply, title and batch
    (three times a reply): built through the ORM (a UNION of two annotated querysets) it cost
    ~1.5 ms of Python each time, for a statement the database answers in ~50 µs
    (docs/benchmarks.md, issue 18). Names come from the models, so a renamed table or column
    still lands here; ``tests/billing/test_group_budgets.py`` covers every row kind."""
    budget, policy = Budget._meta, GroupPolicy._meta
    membership = User.groups.through._meta
    column = {f.name: f.column for f in policy.concrete_fields}
    member = {f.name: f.column for f in membership.concrete_fields}
    user_column = budget.get_field("user").column
    return (
        f"SELECT CASE WHEN b.{user_column} IS NULL THEN {_DEFAULT} ELSE {_OWN} END, '', "
        f"b.{budget.get_field('monthly_usd').column}, NULL "
        f"FROM {budget.db_table} b WHERE b.{user_column} = %s OR b.{user_column} IS NULL "
        "UNION ALL "
        f"SELECT p.{column['group']}, g.name, p.{column['monthly_limit_usd']}, "
        f"p.{column['per_member_limit_usd']} "
        f"FROM {policy.db_table} p "
        f"JOIN {Group._meta.db_table} g ON g.{Group._meta.pk.column} = p.{column['group']} "
        f"JOIN {membership.db_table} m ON m.{member['group']} = p.{column['group']} "
        f"WHERE m.{member['user']} = %s AND (p.{column['monthly_limit_usd']} IS NOT NULL "
        f"OR p.{column['per_member_limit_usd']} IS NOT NULL)"
    )


def _money(value: Any) -> Decimal | None:
    """A money column as the ORM would give it: SQLite hands back a float or an int (exact
    for two decimals, via its shortest repr), PostgreSQL a Decimal."""
    return None if value is None else Decimal(str(value)).quantize(_CENT)


@dataclass(frozen=True)
class Limit:
    """One budget that applies to a user: their own (or the default), a group's budget per
    member (both on the user's month), or a group's budget as a whole (on the group's)."""

    kind: str  # "user", "default", "member" or "group"
    amount: Decimal
    group_id: int | None = None
    group_name: str = ""

    @property
    def words(self) -> str:
        """The budget in plain words, as a refusal names it."""
        if self.kind == "member":
            return f"the monthly budget per member of {self.group_name}"
        if self.kind == "group":
            return f"the monthly budget of the group {self.group_name}"
        return "your monthly budget"

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "group": self.group_name or None, "label": self.words}


@dataclass(frozen=True)
class Limits:
    """Every budget that applies to one user (``limits_for``)."""

    own: Limit | None = None
    members: tuple[Limit, ...] = ()
    groups: tuple[Limit, ...] = ()

    @property
    def limited(self) -> bool:
        return bool(self.own or self.members or self.groups)

    @property
    def on_user(self) -> tuple[Limit, ...]:
        return ((self.own,) if self.own else ()) + self.members

    @property
    def tightest_on_user(self) -> Limit | None:
        """The user's month is held to the smallest of the budgets counted on it."""
        return min(self.on_user, key=lambda limit: limit.amount, default=None)


def month_of(at: datetime | None = None) -> date:
    return timezone.localdate(at or timezone.now()).replace(day=1)


def next_month(month: date) -> date:
    days = calendar.monthrange(month.year, month.month)[1]
    return month + timedelta(days=days)


def limits_for(user_id: int) -> Limits:
    """Every budget that applies to the user, in one statement (a UNION of their own and the
    default budget with their groups' policies): a user in no group pays nothing extra."""
    with connection.cursor() as cursor:
        cursor.execute(_limits_sql(), [user_id, user_id])
        rows = [(key, name, _money(whole), _money(member))
                for key, name, whole, member in cursor.fetchall()]
    budgets = {key: amount for key, _name, amount, _member in rows if key in (_OWN, _DEFAULT)}
    mine = budgets.get(_OWN)
    default = budgets.get(_DEFAULT)
    own_limit = (
        Limit("user", mine) if mine is not None
        else Limit("default", default) if default is not None else None
    )
    group_rows = sorted((row for row in rows if row[0] > 0), key=lambda row: row[0])
    return Limits(
        own=own_limit,
        members=tuple(
            Limit("member", member, group_id, name)
            for group_id, name, _whole, member in group_rows if member is not None
        ),
        groups=tuple(
            Limit("group", whole, group_id, name)
            for group_id, name, whole, _member in group_rows if whole is not None
        ),
    )


def monthly_limit(user_id: int) -> Decimal | None:
    """The user's own budget, else the default, else None (groups' budgets aside)."""
    own = limits_for(user_id).own
    return None if own is None else own.amount

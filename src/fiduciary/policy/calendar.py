"""The policy's working calendar and the date arithmetic on it, in one place for retention and rights deadlines.

A `WorkingCalendar` is the policy's `calendar` (time zone, weekend, the store's own holidays) plus, where the
caller asks for them, the public holidays of the controller's country and state from the `holidays` package
(data shipped inside the package, no network; docs/decisions/0028-public-holidays.md). Retention
(`retention_due`) counts on the policy's own calendar alone, as it always has; rights deadlines
(`rights.deadlines`) add the public holidays, because a deadline given to the store moves to the next working
day and a public holiday is not one.

Two month rules live here, and they differ on purpose:

- `add_months`: the same date of the later month, or that month's last day where the date does not exist
  (EU Regulation 1182/71 Art 3(2)(c)), at the same time of day, never moved off a weekend or holiday. Retention
  uses it, leaving out that Regulation's move to the next working day (its Art 3(4)) on purpose: the end of a
  retention period is a limit on keeping data (storage limitation, GDPR Art 5(1)(e)), which a holiday must not
  push later.
- `months_deadline`: the UK regulator's method for GDPR Art 12(3) "within one month of receipt" (ICO guidance
  "Time limits for responding", since August 2019): the period runs from the day of receipt to the same date
  of the next month, that month's last day where the date does not exist, then the next working day if that
  date is a weekend or public holiday. Rights deadlines use it.
"""

from __future__ import annotations

import calendar
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

import holidays

from fiduciary.policy.schema import BusinessCalendar, PostalAddress

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# A run of non-working days longer than this means the calendar has no working day at all (a policy whose
# weekend is all seven days): refuse rather than loop forever.
_MAX_CLOSED_RUN = 3660
# A `holidays` calendar fills in a year on the first lookup of one of its dates (a dict write); the cached one
# is shared by every request of a process, so lookups take this lock rather than race on a half-filled year.
_LOOKUP = threading.Lock()


@lru_cache(maxsize=64)
def _public_holidays(country: str, subdivision: str | None) -> holidays.HolidayBase | None:
    """The `holidays` calendar of a country (and state), or None where the package has none for it.

    The object fills in each year the first time a date of that year is looked up (`expand=True`); it is cached
    per country and state so every deadline of a policy shares one.
    """
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError:  # a country the package does not cover: the policy's own holidays only
        return None


def public_holiday_region(address: PostalAddress) -> tuple[str, str | None]:
    """(country, subdivision) for the public holidays of the controller's address.

    The address's `region` is free text ("Uttar Pradesh", "UP", "California"): it is matched against the
    package's state codes and names; a region that matches none, or no region, gives the national holidays only.
    """
    country = address.country.upper()
    region = (address.region or "").strip()
    known = _public_holidays(country, None)
    if known is None or not region:
        return country, None
    codes = {code.upper(): code for code in known.subdivisions}
    aliases = {name.casefold(): code for name, code in getattr(known, "subdivisions_aliases", {}).items()}
    code = codes.get(region.upper()) or aliases.get(region.casefold())
    return country, code


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Which days are working days, in which time zone. Build one with `of`."""

    zone: ZoneInfo
    weekend: frozenset[int]  # date.weekday() numbers, Monday 0
    own_holidays: frozenset[date]
    country: str | None = None
    subdivision: str | None = None
    _public: holidays.HolidayBase | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(
        cls, business: BusinessCalendar, *, country: str | None = None, subdivision: str | None = None
    ) -> WorkingCalendar:
        """The policy's calendar; with `country`, also that country's (and state's) public holidays."""
        public = _public_holidays(country.upper(), subdivision) if country else None
        return cls(
            zone=ZoneInfo(business.timezone),
            weekend=frozenset(_WEEKDAYS.index(day) for day in business.weekend),
            own_holidays=frozenset(h.date for h in business.holidays),
            country=country.upper() if country and public is not None else None,
            subdivision=subdivision if public is not None else None,
            _public=public,
        )

    def is_public_holiday(self, day: date) -> bool:
        if self._public is None:
            return False
        with _LOOKUP:
            return day in self._public

    def is_working_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.own_holidays and not self.is_public_holiday(day)

    def next_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, else the first working day after it."""
        for _ in range(_MAX_CLOSED_RUN):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("the calendar has no working day: check its weekend")

    def add_working_days(self, day: date, n: int) -> date:
        """The `n`th working day after `day` (`day` itself is not counted); negative `n` counts back."""
        step = timedelta(days=1 if n >= 0 else -1)
        counted, closed = 0, 0
        while counted < abs(n):
            day += step
            if self.is_working_day(day):
                counted, closed = counted + 1, 0
            else:
                closed += 1
                if closed > _MAX_CLOSED_RUN:
                    raise ValueError("the calendar has no working day: check its weekend")
        return day

    def holidays_between(self, start: date, end: date) -> Iterable[date]:
        """The non-working days from `start` to `end` inclusive (for messages and tests)."""
        day = start
        while day <= end:
            if not self.is_working_day(day):
                yield day
            day += timedelta(days=1)


_Moment = TypeVar("_Moment", date, datetime)


def add_months(moment: _Moment, months: int) -> _Moment:
    """The same date `months` later (earlier if negative), or that month's last day where the date does not
    exist (Reg 1182/71 Art 3(2)(c)); the time of day, if any, is kept."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def months_deadline(received: date, months: int, working: WorkingCalendar) -> date:
    """The last day to answer a request received on `received` within `months` calendar months, by the ICO's
    method for GDPR Art 12(3): the same date `months` later (the month's last day where it does not exist),
    then the next working day if that one is a weekend or holiday."""
    return working.next_working_day(add_months(received, months))

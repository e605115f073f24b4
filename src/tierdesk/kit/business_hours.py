"""Business-hour arithmetic for SLA clocks: pure standard library, no database.

A calendar is a set of weekly opening intervals in local wall-clock time plus holiday dates. Every local date is
turned into concrete UTC spans (so DST days get their real 23 or 25 hours), and all arithmetic walks those spans
day by day: cheap enough for years of calendar time, and exact to the microsecond.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIDNIGHT = dt.time(0, 0)
MAX_EMPTY_DAYS = 3 * 366  # give up when ~3 years pass without a single open minute (e.g. every open day a holiday)
_INTERVAL = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")

Span = tuple[dt.datetime, dt.datetime]


def _minutes(t: dt.time, *, end: bool = False) -> int:
    # an end of 00:00 means the end of the day, so it sorts after everything else
    return 24 * 60 if end and t == MIDNIGHT else t.hour * 60 + t.minute


def _fmt(t: dt.time, *, end: bool = False) -> str:
    m = _minutes(t, end=end)
    return f"{m // 60:02d}:{m % 60:02d}"


def _interval_text(start: dt.time, end: dt.time) -> str:
    return f"{_fmt(start)}-{_fmt(end, end=True)}"


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: str
    weekly_hours: dict[int, list[tuple[dt.time, dt.time]]]
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        # validate here, not only in from_spec, so a calendar built in code can't silently misbehave either
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        for day in self.weekly_hours:
            if day not in range(7):
                raise ValueError(f"unknown weekday {day!r} (expected 0=Monday .. 6=Sunday)")
        hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for day in range(7):
            intervals = [(start, end) for start, end in self.weekly_hours.get(day, [])]
            for start, end in intervals:
                for t in (start, end):
                    if not isinstance(t, dt.time) or t.tzinfo is not None or t.second or t.microsecond:
                        raise ValueError(f"{DAYS[day]}: times must be naive whole minutes, got {t!r}")
                if _minutes(end, end=True) <= _minutes(start):
                    raise ValueError(f"{DAYS[day]}: interval {_interval_text(start, end)} must end after it starts")
            for (s1, e1), (s2, e2) in pairwise(intervals):
                if _minutes(s2) < _minutes(e1, end=True):
                    raise ValueError(
                        f"{DAYS[day]}: overlapping or unsorted intervals "
                        f"{_interval_text(s1, e1)} and {_interval_text(s2, e2)}"
                    )
            hours[day] = intervals
        if not any(hours.values()):
            raise ValueError("the calendar has no business hours")
        for holiday in self.holidays:
            if not isinstance(holiday, dt.date) or isinstance(holiday, dt.datetime):
                raise ValueError(f"holidays must be dates, got {holiday!r}")
        # normalise (all seven days, a real frozenset) so equal calendars compare equal however they were built
        object.__setattr__(self, "weekly_hours", hours)
        object.__setattr__(self, "holidays", frozenset(self.holidays))

    @classmethod
    def always_open(cls) -> BusinessCalendar:
        return cls("UTC", {day: [(MIDNIGHT, MIDNIGHT)] for day in range(7)})

    @classmethod
    def from_spec(
        cls, timezone: str, weekly_hours: dict[str, list[str]], holidays: Iterable[str] = ()
    ) -> BusinessCalendar:
        hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for key, intervals in weekly_hours.items():
            if key not in DAYS:
                raise ValueError(f"unknown day {key!r} (expected one of {', '.join(DAYS)})")
            if isinstance(intervals, str) or not isinstance(intervals, list | tuple):
                raise ValueError(f"{key}: hours must be a list of 'HH:MM-HH:MM' strings, got {intervals!r}")
            hours[DAYS.index(key)] = sorted((_parse_interval(key, text) for text in intervals), key=lambda iv: iv[0])
        dates = set()
        for text in holidays:
            try:
                dates.add(dt.date.fromisoformat(text))
            except (TypeError, ValueError):
                raise ValueError(f"bad holiday date {text!r} (expected YYYY-MM-DD)") from None
        return cls(timezone, hours, frozenset(dates))

    def to_spec(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "weekly_hours": {
                DAYS[day]: [_interval_text(s, e) for s, e in ivs] for day, ivs in self.weekly_hours.items()
            },
            "holidays": sorted(day.isoformat() for day in self.holidays),
        }


def _parse_interval(day: str, text: object) -> tuple[dt.time, dt.time]:
    match = _INTERVAL.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{day}: malformed interval {text!r} (expected 'HH:MM-HH:MM')")
    h1, m1, h2, m2 = map(int, match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"{day}: malformed interval {text!r} (hours 00-23, minutes 00-59, 24:00 only as an end)")
    if (h2, m2) <= (h1, m1):  # "22:00-00:00" is rejected too: midnight as an end is spelled 24:00
        raise ValueError(f"{day}: interval {text!r} must end after it starts (write midnight as 24:00)")
    return dt.time(h1, m1), dt.time(h2 % 24, m2)


def _to_utc(local: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A naive local wall-clock time as a UTC instant: fold=0 when ambiguous, the transition itself when skipped."""
    utc = local.replace(tzinfo=zone).astimezone(dt.UTC)
    if utc.astimezone(zone).replace(tzinfo=None) == local:
        return utc
    # In a spring-forward gap fold=0 lands after the transition and fold=1 before it; bisect (in whole seconds,
    # as tzdata transitions are) for the first instant on the new offset: the first one that exists at all.
    lo, hi = local.replace(tzinfo=zone, fold=1).astimezone(dt.UTC), utc
    offset = hi.astimezone(zone).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):
        mid = lo + dt.timedelta(seconds=(hi - lo) // dt.timedelta(seconds=2))
        lo, hi = (lo, mid) if mid.astimezone(zone).utcoffset() == offset else (mid, hi)
    return hi


def _day_spans(calendar: BusinessCalendar, day: dt.date, zone: ZoneInfo) -> list[Span]:
    if day in calendar.holidays:
        return []
    spans = []
    for start, end in calendar.weekly_hours[day.weekday()]:
        s = _to_utc(dt.datetime.combine(day, start), zone)
        e = _to_utc(dt.datetime.combine(day + dt.timedelta(days=end == MIDNIGHT), end), zone)
        if s < e:  # an interval wholly inside a DST gap has no real time
            spans.append((s, e))
    return spans


def _spans(calendar: BusinessCalendar, start: dt.datetime, until: dt.datetime | None = None) -> Iterator[Span]:
    """Open UTC spans clipped to begin at `start`, in order, one local day at a time (stop past `until`)."""
    zone = ZoneInfo(calendar.timezone)
    # begin a day early: the previous local date's last interval can reach past midnight into `start`'s date
    day = start.astimezone(zone).date() - dt.timedelta(days=1)
    empty = 0
    while until is None or _to_utc(dt.datetime.combine(day, MIDNIGHT), zone) < until:
        found = False
        for s, e in _day_spans(calendar, day, zone):
            if e > start:
                found = True
                yield max(s, start), e
        empty = 0 if found else empty + 1
        if until is None and empty > MAX_EMPTY_DAYS:  # a bounded walk just ends; an endless one must not
            raise ValueError(f"no business hours within {MAX_EMPTY_DAYS} days after {start.isoformat()}")
        day += dt.timedelta(days=1)


def _utc(value: dt.datetime, name: str) -> dt.datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(dt.UTC)


def add_business_time(calendar: BusinessCalendar, start: dt.datetime, duration: dt.timedelta) -> dt.datetime:
    """The UTC instant when `duration` of business time has passed since `start` (0: the next open instant)."""
    if duration < dt.timedelta(0):
        raise ValueError("duration must not be negative")
    start = _utc(start, "start")
    remaining = duration
    for s, e in _spans(calendar, start):
        # `<=` so a deadline that uses up a span exactly is that span's end, not the next opening
        if remaining <= e - s:
            return s + remaining
        remaining -= e - s
    raise AssertionError("unreachable: _spans is endless without `until`")  # pragma: no cover


def business_time_between(calendar: BusinessCalendar, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """Business time in [start, end); zero when end <= start."""
    start, end = _utc(start, "start"), _utc(end, "end")
    total = dt.timedelta(0)
    if end <= start:
        return total
    for s, e in _spans(calendar, start, until=end):
        if s >= end:
            break
        total += min(e, end) - s
    return total


def is_open(calendar: BusinessCalendar, at: dt.datetime) -> bool:
    at = _utc(at, "at")
    zone = ZoneInfo(calendar.timezone)
    day = at.astimezone(zone).date()
    return any(s <= at < e for d in (day - dt.timedelta(days=1), day) for s, e in _day_spans(calendar, d, zone))

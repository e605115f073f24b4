"""Business-hour arithmetic: explicit edge cases (weekends, holidays, overnight shifts, DST) and properties."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tierdesk.kit.business_hours import (
    BusinessCalendar,
    add_business_time,
    business_time_between,
    is_open,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = dt.timedelta(hours=1)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
ALL_DAYS = (*WEEKDAYS, "sat", "sun")


def office(timezone: str = "Europe/Berlin", hours: str = "09:00-18:00", days=WEEKDAYS, holidays=()) -> BusinessCalendar:
    return BusinessCalendar.from_spec(timezone, {day: [hours] for day in days}, list(holidays))


def local(zone: ZoneInfo, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zone)


# --- explicit cases -------------------------------------------------------------------------------------------------


def test_friday_evening_ticket_is_due_monday_morning():
    due = add_business_time(office(), local(BERLIN, 2026, 5, 15, 17, 30), H)  # Friday 17:30
    assert due == local(BERLIN, 2026, 5, 18, 9, 30)  # Monday 09:30
    assert due.tzinfo is dt.UTC
    assert business_time_between(office(), local(BERLIN, 2026, 5, 15, 17, 30), due) == H


def test_deadline_that_uses_up_the_day_exactly_is_the_closing_time():
    assert add_business_time(office(), local(BERLIN, 2026, 5, 15, 17), H) == local(BERLIN, 2026, 5, 15, 18)
    # ...but asking for the next business instant at closing time moves on to the next opening
    assert add_business_time(office(), local(BERLIN, 2026, 5, 15, 18), dt.timedelta(0)) == local(BERLIN, 2026, 5, 18, 9)


def test_zero_duration_is_start_itself_when_open():
    start = local(BERLIN, 2026, 5, 13, 11, 22, 33, 444)
    assert add_business_time(office(), start, dt.timedelta(0)) == start
    assert is_open(office(), start)


def test_weekend_start_waits_for_monday():
    cal = office()
    saturday = local(BERLIN, 2026, 5, 16, 12)
    assert not is_open(cal, saturday)
    assert add_business_time(cal, saturday, dt.timedelta(0)) == local(BERLIN, 2026, 5, 18, 9)
    assert add_business_time(cal, saturday, 2 * H) == local(BERLIN, 2026, 5, 18, 11)
    assert business_time_between(cal, local(BERLIN, 2026, 5, 15, 12), local(BERLIN, 2026, 5, 18, 12)) == 9 * H


def test_overnight_shift_is_one_continuous_stretch():
    # Mon-Fri nights 22:00-06:00, written as two intervals on consecutive days
    spec = {"mon": ["22:00-24:00"], "sat": ["00:00-06:00"]}
    spec |= {day: ["00:00-06:00", "22:00-24:00"] for day in ("tue", "wed", "thu", "fri")}
    cal = BusinessCalendar.from_spec("Europe/Berlin", spec, [])
    monday_night = local(BERLIN, 2026, 5, 11, 23)
    assert add_business_time(cal, monday_night, 2 * H) == local(BERLIN, 2026, 5, 12, 1)
    assert add_business_time(cal, monday_night, 7 * H) == local(BERLIN, 2026, 5, 12, 6)
    assert add_business_time(cal, monday_night, 8 * H) == local(BERLIN, 2026, 5, 12, 23)
    assert is_open(cal, local(BERLIN, 2026, 5, 12, 0))
    assert business_time_between(cal, local(BERLIN, 2026, 5, 11, 21), local(BERLIN, 2026, 5, 12, 7)) == 8 * H
    # Friday night runs into Saturday morning, then nothing until Monday 22:00
    assert add_business_time(cal, local(BERLIN, 2026, 5, 16, 5), 2 * H) == local(BERLIN, 2026, 5, 18, 23)


def test_monday_holiday_pushes_to_tuesday():
    cal = office(holidays=["2026-05-25"])  # Whit Monday
    assert add_business_time(cal, local(BERLIN, 2026, 5, 22, 17, 30), H) == local(BERLIN, 2026, 5, 26, 9, 30)
    assert business_time_between(cal, local(BERLIN, 2026, 5, 22, 9), local(BERLIN, 2026, 5, 27, 9)) == 18 * H


def test_start_inside_a_holiday():
    cal = office(holidays=["2026-05-25"])
    start = local(BERLIN, 2026, 5, 25, 11)
    assert not is_open(cal, start)
    assert add_business_time(cal, start, H) == local(BERLIN, 2026, 5, 26, 10)
    assert business_time_between(cal, start, local(BERLIN, 2026, 5, 25, 17)) == dt.timedelta(0)


def test_dst_days_last_23_and_25_hours_on_a_24h_calendar():
    cal = BusinessCalendar.from_spec("Europe/Berlin", {day: ["00:00-24:00"] for day in ALL_DAYS}, [])
    spring, fall = local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 10, 25)
    assert business_time_between(cal, spring, local(BERLIN, 2026, 3, 30)) == 23 * H
    assert business_time_between(cal, fall, local(BERLIN, 2026, 10, 26)) == 25 * H
    assert add_business_time(cal, spring, 24 * H) == local(BERLIN, 2026, 3, 30, 1)
    assert add_business_time(cal, fall, 24 * H) == local(BERLIN, 2026, 10, 25, 23)
    # real hours, whatever the wall clock says (aware + timedelta in one zone is wall-clock arithmetic in Python)
    assert add_business_time(cal, spring, 5 * H) == spring.astimezone(dt.UTC) + 5 * H == local(BERLIN, 2026, 3, 29, 6)


def test_dst_days_on_a_nine_to_five_calendar():
    cal = office(hours="09:00-17:00", days=ALL_DAYS)
    # Saturday 16:00 CET + 2h -> Sunday 10:00 CEST: the clocks changed overnight, business hours didn't
    assert add_business_time(cal, local(BERLIN, 2026, 3, 28, 16), 2 * H) == local(BERLIN, 2026, 3, 29, 10)
    assert add_business_time(cal, local(BERLIN, 2026, 10, 24, 16), 2 * H) == local(BERLIN, 2026, 10, 25, 10)
    assert business_time_between(cal, local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)) == 8 * H
    assert business_time_between(cal, local(BERLIN, 2026, 10, 25), local(BERLIN, 2026, 10, 26)) == 8 * H


def test_intervals_inside_the_dst_transition():
    # spring forward: 02:00-03:00 doesn't exist; an interval starting inside the gap starts at 03:00
    gap = BusinessCalendar.from_spec("Europe/Berlin", {"sun": ["02:30-04:00"]}, [])
    assert business_time_between(gap, local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)) == H
    assert add_business_time(gap, local(BERLIN, 2026, 3, 29), dt.timedelta(0)) == local(BERLIN, 2026, 3, 29, 3)
    lost = BusinessCalendar.from_spec("Europe/Berlin", {"sun": ["02:00-03:00"]}, [])
    assert business_time_between(lost, local(BERLIN, 2026, 3, 29), local(BERLIN, 2026, 3, 30)) == dt.timedelta(0)
    # fall back: 02:00 is read as its first occurrence (fold=0), so 02:00-03:00 covers both passes of the hour
    assert business_time_between(lost, local(BERLIN, 2026, 10, 25), local(BERLIN, 2026, 10, 26)) == 2 * H


def test_new_york():
    cal = office(timezone="America/New_York", hours="09:00-17:00")
    # Friday 16:00 EST + 2h -> Monday 10:00 EDT (DST began on Sunday 2026-03-08)
    due = add_business_time(cal, local(NEW_YORK, 2026, 3, 6, 16), 2 * H)
    assert due == local(NEW_YORK, 2026, 3, 9, 10)
    assert due == dt.datetime(2026, 3, 9, 14, tzinfo=dt.UTC)
    full = BusinessCalendar.from_spec("America/New_York", {day: ["00:00-24:00"] for day in ALL_DAYS}, [])
    assert business_time_between(full, local(NEW_YORK, 2026, 3, 8), local(NEW_YORK, 2026, 3, 9)) == 23 * H
    assert business_time_between(full, local(NEW_YORK, 2026, 11, 1), local(NEW_YORK, 2026, 11, 2)) == 25 * H


@pytest.mark.parametrize("hours", [0, 1, 7.5, 24, 400, 24 * 365 * 2])
def test_always_open_is_plain_addition(hours):
    cal = BusinessCalendar.always_open()
    start = dt.datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=BERLIN)  # just before a DST change, in Berlin time
    end = start.astimezone(dt.UTC) + dt.timedelta(hours=hours)
    assert add_business_time(cal, start, dt.timedelta(hours=hours)) == end
    assert business_time_between(cal, start, end) == dt.timedelta(hours=hours)
    assert is_open(cal, start)


def test_long_durations_are_fast_and_exact():
    cal = office(holidays=["2026-05-25", "2026-12-25"])
    start = local(BERLIN, 2026, 5, 15, 17, 30)
    due = add_business_time(cal, start, 400 * H)  # ~9 weeks of 45-hour weeks
    assert due == local(BERLIN, 2026, 7, 20, 12, 30)  # 0.5 + 45 + 36 (Whit Monday) + 7 * 45 + 3.5
    assert business_time_between(cal, start, due) == 400 * H


def test_no_business_time_within_three_years_raises():
    mondays = [dt.date(2026, 1, 5) + dt.timedelta(weeks=n) for n in range(52 * 5)]
    cal = office(days=["mon"], holidays=[d.isoformat() for d in mondays])
    with pytest.raises(ValueError, match="no business hours within"):
        add_business_time(cal, local(BERLIN, 2026, 1, 1), H)
    # a bounded question just has the answer zero
    assert business_time_between(cal, local(BERLIN, 2026, 1, 1), local(BERLIN, 2030, 1, 1)) == dt.timedelta(0)


def test_naive_datetimes_and_negative_durations_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(office(), dt.datetime(2026, 5, 15, 12), H)
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(office(), local(BERLIN, 2026, 5, 15), dt.datetime(2026, 5, 16))
    with pytest.raises(ValueError, match="negative"):
        add_business_time(office(), local(BERLIN, 2026, 5, 15, 12), -H)
    assert business_time_between(
        office(), local(BERLIN, 2026, 5, 15, 12), local(BERLIN, 2026, 5, 15, 11)
    ) == dt.timedelta(0)


@pytest.mark.parametrize(
    ("timezone", "weekly_hours", "holidays", "message"),
    [
        ("Mars/Olympus_Mons", {"mon": ["09:00-17:00"]}, [], "unknown time zone 'Mars/Olympus_Mons'"),
        ("", {"mon": ["09:00-17:00"]}, [], "unknown time zone"),
        ("UTC", {"monday": ["09:00-17:00"]}, [], "unknown day 'monday'"),
        ("UTC", {"mon": ["9-17"]}, [], "mon: malformed interval '9-17'"),
        ("UTC", {"tue": ["09:00-25:00"]}, [], "tue: malformed interval"),
        ("UTC", {"tue": ["24:00-24:00"]}, [], "tue: malformed interval"),
        ("UTC", {"wed": ["09:60-17:00"]}, [], "wed: malformed interval"),
        ("UTC", {"mon": "09:00-17:00"}, [], "mon: hours must be a list"),
        ("UTC", {"thu": ["17:00-09:00"]}, [], "thu: interval '17:00-09:00' must end after it starts"),
        ("UTC", {"thu": ["22:00-00:00"]}, [], "must end after it starts \\(write midnight as 24:00\\)"),
        ("UTC", {"fri": ["09:00-09:00"]}, [], "must end after it starts"),
        ("UTC", {"fri": ["13:00-18:00", "09:00-14:00"]}, [], "fri: overlapping .* 09:00-14:00 and 13:00-18:00"),
        ("UTC", {"mon": ["09:00-17:00"]}, ["2026-02-30"], "bad holiday date '2026-02-30'"),
        ("UTC", {"mon": ["09:00-17:00"]}, ["25.12.2026"], "bad holiday date"),
        ("UTC", {}, [], "the calendar has no business hours"),
        ("UTC", {"sat": [], "sun": []}, [], "the calendar has no business hours"),
    ],
)
def test_from_spec_errors_name_the_problem(timezone, weekly_hours, holidays, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar.from_spec(timezone, weekly_hours, holidays)


def test_direct_construction_is_validated_too():
    with pytest.raises(ValueError, match="overlapping"):
        BusinessCalendar("UTC", {0: [(dt.time(9), dt.time(12)), (dt.time(11), dt.time(13))]})
    with pytest.raises(ValueError, match="unknown weekday 7"):
        BusinessCalendar("UTC", {7: [(dt.time(9), dt.time(12))]})
    with pytest.raises(ValueError, match="must end after it starts"):
        BusinessCalendar("UTC", {0: [(dt.time(12), dt.time(9))]})


def test_spec_round_trip():
    spec = {
        "timezone": "Asia/Kolkata",
        "weekly_hours": {
            "mon": ["00:00-06:00", "22:00-24:00"],
            "tue": ["09:00-12:30", "13:30-18:00"],
            "wed": [],
            "thu": [],
            "fri": ["09:00-17:00"],
            "sat": [],
            "sun": ["10:00-14:00"],
        },
        "holidays": ["2026-01-26", "2026-08-15"],
    }
    cal = BusinessCalendar.from_spec(spec["timezone"], spec["weekly_hours"], spec["holidays"])
    assert cal.to_spec() == spec
    assert BusinessCalendar.from_spec(**cal.to_spec()) == cal
    assert cal.weekly_hours[0] == [(dt.time(0), dt.time(6)), (dt.time(22), dt.time(0))]
    # unsorted input is sorted, not rejected
    shuffled = BusinessCalendar.from_spec("UTC", {"tue": ["13:30-18:00", "09:00-12:30"]}, [])
    assert shuffled.to_spec()["weekly_hours"]["tue"] == ["09:00-12:30", "13:30-18:00"]


# --- properties ---------------------------------------------------------------------------------------------------

ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
FIRST, LAST = dt.datetime(2025, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 12, 31, tzinfo=dt.UTC)


def _time(minute: int) -> dt.time:
    return dt.time(minute // 60 % 24, minute % 60)  # 1440 -> 00:00, which as an end means midnight


@st.composite
def calendars(draw) -> BusinessCalendar:
    weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for day in range(7):
        # an even number of distinct boundaries, paired up, gives sorted non-overlapping intervals
        bounds = sorted(draw(st.sets(st.integers(0, 24 * 60), max_size=6)))
        if draw(st.booleans()):  # sometimes open until / from midnight, so overnight stretches happen
            bounds = sorted(set(bounds) | {24 * 60})
        if len(bounds) % 2:
            bounds = bounds[:-1]
        weekly[day] = [(_time(a), _time(b)) for a, b in zip(bounds[::2], bounds[1::2], strict=True)]
    if not any(weekly.values()):
        weekly[draw(st.integers(0, 6))] = [(dt.time(9), dt.time(17))]
    holidays = draw(st.frozensets(st.dates(dt.date(2025, 1, 1), dt.date(2028, 1, 31)), max_size=30))
    return BusinessCalendar(draw(st.sampled_from(ZONES)), weekly, holidays)


def weekly_business_time(cal: BusinessCalendar) -> dt.timedelta:
    minutes = sum(
        ((e.hour * 60 + e.minute) or 1440) - (s.hour * 60 + s.minute)
        for ivs in cal.weekly_hours.values()
        for s, e in ivs
    )
    return dt.timedelta(minutes=minutes)


instants = st.datetimes(FIRST.replace(tzinfo=None), LAST.replace(tzinfo=None), timezones=st.just(dt.UTC))


@st.composite
def durations(draw, cal: BusinessCalendar, weeks: int = 3) -> dt.timedelta:
    # bounded by a few weeks' worth of this calendar's hours, so sparse calendars don't walk for centuries
    limit = weekly_business_time(cal) * weeks // dt.timedelta(microseconds=1)
    minutes = st.integers(1, limit // 60_000_000).map(lambda m: dt.timedelta(minutes=m))  # lands on boundaries
    return draw(st.one_of(minutes, st.integers(1, limit).map(lambda us: dt.timedelta(microseconds=us))))


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(data=st.data(), cal=calendars(), start=instants)
def test_between_inverts_add(data, cal, start):
    duration = data.draw(durations(cal))
    due = add_business_time(cal, start, duration)
    assert due.tzinfo is dt.UTC and due > start
    assert business_time_between(cal, start, due) == duration
    assert business_time_between(cal, start, due - dt.timedelta(microseconds=1)) < duration


@PROPERTY
@given(data=st.data(), cal=calendars(), start=instants)
def test_add_is_monotonic(data, cal, start):
    a, b = sorted([data.draw(durations(cal)), data.draw(durations(cal))])
    first_open = add_business_time(cal, start, dt.timedelta(0))
    assert start <= first_open <= add_business_time(cal, start, a) <= add_business_time(cal, start, b)
    if a < b:
        assert add_business_time(cal, start, a) < add_business_time(cal, start, b)


@PROPERTY
@given(data=st.data(), cal=calendars(), start=instants)
def test_add_is_additive(data, cal, start):
    a, b = data.draw(durations(cal, weeks=2)), data.draw(durations(cal, weeks=2))
    assert add_business_time(cal, add_business_time(cal, start, a), b) == add_business_time(cal, start, a + b)


@PROPERTY
@given(
    cal=calendars(),
    a=instants,
    gaps=st.tuples(
        st.timedeltas(dt.timedelta(0), dt.timedelta(days=60)), st.timedeltas(dt.timedelta(0), dt.timedelta(days=60))
    ),
)
def test_between_is_additive_over_splits(cal, a, gaps):
    b = a + gaps[0]
    c = b + gaps[1]
    assert business_time_between(cal, a, c) == business_time_between(cal, a, b) + business_time_between(cal, b, c)
    assert business_time_between(cal, a, c) <= c - a


@PROPERTY
@given(cal=calendars(), at=instants)
def test_is_open_matches_the_wall_clock_away_from_dst_changes(cal, at):
    zone = ZoneInfo(cal.timezone)
    tick = dt.timedelta(microseconds=1)
    assert is_open(cal, at) == (business_time_between(cal, at, at + tick) == tick)
    # an independent oracle: read the wall clock and look the time up, valid when no offset change is near
    if (at - dt.timedelta(hours=26)).astimezone(zone).utcoffset() != (at + dt.timedelta(hours=26)).astimezone(
        zone
    ).utcoffset():
        return
    wall = at.astimezone(zone)
    minute = wall.hour * 60 + wall.minute
    expected = wall.date() not in cal.holidays and any(
        s.hour * 60 + s.minute <= minute < ((e.hour * 60 + e.minute) or 1440)
        for s, e in cal.weekly_hours[wall.weekday()]
    )
    assert is_open(cal, at) == expected

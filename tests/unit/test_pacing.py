"""Pacing's pure parts: which courses are held, prep times learnt robustly, the queue's
projection over a station's cooks, and start times that land a course together."""

from __future__ import annotations

import pytest

from hub.domain import pacing as pc
from hub.domain.menu import parse_menu
from hub.errors import MenuInvalid
from hub.ops.menu_file import demo_menu
from tests.samples import with_courses

# ---------------------------------------------------------------- courses


def test_the_first_course_goes_and_later_ones_wait() -> None:
    # drinks (rank 0, never held), starters 1, mains 2, desserts 3
    assert pc.held_ranks([(0, False), (1, True), (2, True)], (), False) == {2}
    assert pc.held_ranks([(2, True), (3, True)], (), False) == {3}
    assert pc.held_ranks([(2, True)], (), False) == set()
    assert pc.held_ranks([(-1, False), (0, False)], (), False) == set()


def test_a_round_joins_the_course_the_table_holds_and_all_together_holds_nothing() -> None:
    assert pc.held_ranks([(2, True)], {2}, False) == {2}  # more mains while mains wait
    assert pc.held_ranks([(1, True)], {2}, False) == set()  # a starter goes now
    assert pc.held_ranks([(1, True), (2, True), (3, True)], (), True) == set()


def test_menu_courses_default_per_category_and_bad_ones_name_the_field() -> None:
    menu = parse_menu(with_courses(demo_menu()))
    assert menu.course_of(menu.items["chicken-satay"]) == "starters"
    assert menu.course_of(menu.items["beef-chow-fun"]) == "mains"
    assert menu.course_rank("mains") == 2
    assert menu.course_rank(None) == -1
    assert menu.prep_default(menu.items["chicken-satay"]) == 600  # the station's
    plain = parse_menu(demo_menu())
    assert plain.courses == ()
    assert plain.course_of(plain.items["chicken-satay"]) is None
    for path, value, field in (
        (("items", 0, "course"), "soup", "items[0].course"),
        (("items", 0, "prep_s"), 0, "items[0].prep_s"),
        (("categories", 0, "course"), 3, "categories[0].course"),
        (("stations", 0, "prep_s"), "ten", "stations[0].prep_s"),
    ):
        doc = with_courses(demo_menu())
        doc[path[0]][path[1]][path[2]] = value
        with pytest.raises(MenuInvalid) as err:
            parse_menu(doc)
        assert err.value.field == field
    doc = with_courses(demo_menu())
    doc["courses"].append({"id": "mains", "name": "Again"})
    with pytest.raises(MenuInvalid) as err:
        parse_menu(doc)
    assert err.value.field == "courses[4].id"


# ---------------------------------------------------------------- learnt prep times


def test_the_robust_median_ignores_a_ticket_forgotten_on_the_screen() -> None:
    times = [600, 610, 590, 605, 595, 3600]
    assert pc.robust_median(times) == 600
    assert pc.robust_median([]) is None


def test_prep_falls_back_from_the_hour_to_the_day_to_the_menu_scaled_by_the_station() -> None:
    m = pc.PrepModel()
    assert m.expected("satay", "grill", 12, 600) == 600  # nothing learnt: the menu
    for s in (400, 420, 410):
        m.observe("satay", "grill", 18, s)
    assert m.expected("satay", "grill", 12, 600) == 410  # the whole day's
    for s in (700, 720, 710, 690, 705):
        m.observe("satay", "grill", 12, s)
    assert m.expected("satay", "grill", 12, 600) == 705  # lunch has enough of its own
    for _ in range(5):
        m.observe_station("wok", 300, 600)  # the wok's menu times are twice the truth
    assert m.expected("noodles", "wok", 12, 600) == 300
    m.observe("satay", "grill", 12, -5)  # a clock step: ignored
    assert m.count("satay", "grill") == 8


def test_a_ticket_past_its_time_is_expected_to_go_on_as_the_long_ones_did() -> None:
    # 20 tickets of a station: 17 on time (0.9 to 1.1 of expected), 3 a cook was called
    # away from (2.5x)
    tail = pc.TimeTail([0.9, 1.0, 1.1] * 5 + [0.95, 1.05] + [2.5] * 3)
    # just started: on average a little over its expected time still to go
    assert tail.mean_left_s(600, 0) == pytest.approx(600 * (sum(tail.ratios) / 20))
    # half way: the mean of those that ran past half, less the half run
    assert tail.mean_left_s(600, 300) == pytest.approx(600 * sum(tail.ratios) / 20 - 300)
    # 1.2x its time: only the long ones ran this far, it ends at 2.5x, not "any second now"
    assert tail.mean_left_s(600, 720, min_n=3) == pytest.approx(1500 - 720)
    assert tail.mean_left_s(600, 720, min_n=4) is None  # too few ran that long to tell
    assert tail.mean_left_s(600, 1600) is None  # past every one of them
    assert pc.TimeTail([]).mean_left_s(600, 0) is None
    assert tail.mean_left_s(0, 10) is None


def test_the_model_tells_a_started_tickets_time_left_from_its_stations_tickets() -> None:
    m = pc.PrepModel(min_station=3)
    assert m.time_left_s("grill", 600, 700) is None  # nothing learnt yet
    for seconds in (600, 600, 600, 1500, 1500, 1500):
        m.observe_ticket("grill", seconds, 600)
    assert m.time_left_s("grill", 600, 700) == pytest.approx(800)
    assert m.time_left_s("wok", 600, 700) is None  # another station's tickets do not count
    m.observe_ticket("grill", 1500, 600)  # learnt from the next bump at once
    assert m.time_left_s("grill", 600, 0) == pytest.approx((3 * 600 + 4 * 1500) / 7)


def test_a_cook_is_busy_from_the_last_bumps() -> None:
    # two cooks: the ticket could start at 0, but both cooks were busy until 100 and 200 s
    assert pc.service_time(500_000, 0, [100_000, 200_000], 2) == 400.0
    assert pc.service_time(500_000, 300_000, [100_000, 200_000], 2) == 200.0
    assert pc.service_time(500_000, 0, [], 2) == 500.0


# ---------------------------------------------------------------- projection and pacing


def job(tid: int, ready_s: int, work_s: int, station: str = "grill") -> pc.Job:
    return pc.Job(tid, station, ready_s * 1000, work_s, fired_ms=ready_s * 1000)


def test_the_projection_shares_a_station_between_its_cooks_in_fired_order() -> None:
    jobs = [job(1, 0, 600), job(2, 0, 600), job(3, 0, 600), job(4, 10, 60, "bar")]
    proj = pc.project(0, jobs, {"grill": 2, "bar": 1})
    assert proj.finish_ms[1] == 600_000
    assert proj.finish_ms[2] == 600_000
    assert proj.finish_ms[3] == 1_200_000  # waits for a cook
    assert proj.finish_ms[4] == 70_000
    assert proj.station_wait_s("grill", 0) == 600
    assert proj.station_wait_s("bar", 0) == 0


def test_a_paced_ticket_waiting_for_its_time_leaves_the_cook_to_others() -> None:
    paced = pc.Job(1, "grill", 900_000, 300, fired_ms=0)  # may start at 15 min
    proj = pc.project(0, [paced, job(2, 0, 300)], {"grill": 1})
    assert proj.finish_ms[2] == 300_000  # made while the paced one waits
    assert proj.finish_ms[1] == 1_200_000


def test_a_course_is_paced_to_land_together_and_fired_at_once_it_does_not() -> None:
    proj = pc.project(0, [job(9, 0, 600, "wok")], {"grill": 1, "wok": 1})
    course = [
        pc.PaceTicket(1, "grill", (pc.PaceLine(0, 720),)),
        pc.PaceTicket(2, "wok", (pc.PaceLine(1, 300),)),
    ]
    paced = {p.ticket_id: p for p in pc.pace(0, course, proj)}
    # the wok is busy for 10 min: its 5 minutes end at 15; the grill's 12 must start at 3
    assert paced[1].due_ms == paced[2].due_ms == 900_000
    assert paced[1].start_at_ms == 180_000
    # the wok's queue holds its ticket back until 10 anyway: it may start now, keeping its
    # place (held back, tickets fired after it would take the wok's cook first)
    assert paced[2].start_at_ms == 0
    assert paced[2].line_start_ms == {1: 0}
    at_once = {p.ticket_id: p for p in pc.pace(0, course, proj, together=False)}
    assert at_once[1].start_at_ms == at_once[2].start_at_ms == 0
    assert at_once[1].due_ms == 720_000


def test_quote_errors_are_percentiles_of_the_absolute_error() -> None:
    stats = pc.error_stats([-60, 30, 120, -300, 10])
    assert stats == {"count": 5, "p50_s": 60, "p90_s": 300, "mean_s": -40.0}
    assert pc.error_stats([])["p50_s"] is None


# ---------------------------------------------------------------- pacing on the cooks' starts

T0 = 1_000_000_000


def test_the_anchor_started_times_the_others_to_end_with_it() -> None:
    steak = pc.CourseTicket(1, 600, start_at_ms=T0, started_ms=T0 + 20_000)  # 20 s late
    salad = pc.CourseTicket(2, 180, start_at_ms=T0 + 420_000)
    assert pc.anchor_of([salad, steak]) == steak
    plan = pc.repace_on_start(T0 + 20_000, [steak, salad], {2: 30_000})
    due = T0 + 20_000 + 600_000
    assert plan == {2: (due - 180_000 - 30_000, due)}  # started 30 s early for a free cook


def test_an_anchor_late_to_start_takes_the_others_with_it_and_on_time_nothing_moves() -> None:
    steak = pc.CourseTicket(1, 600, start_at_ms=T0)
    salad = pc.CourseTicket(2, 180, start_at_ms=T0 + 420_000)
    assert pc.repace_on_start(T0 + 10_000, [steak, salad]) == {}  # within 15 s: the plan holds
    now = T0 + 90_000  # a minute and a half late, not started
    plan = pc.repace_on_start(now, [steak, salad])
    assert plan[2] == (now + 420_000, now + 600_000)
    assert plan[1] == (now, now + 600_000)


def test_a_ticket_started_before_its_time_is_followed_by_the_others() -> None:
    steak = pc.CourseTicket(1, 600, start_at_ms=T0 + 60_000)
    noodles = pc.CourseTicket(2, 500, start_at_ms=T0 + 160_000, started_ms=T0)  # out of plan
    plan = pc.repace_on_start(T0, [steak, noodles])
    # the steak cannot end with the noodles (T0 + 500 s): it starts now, the course lands
    # when the steak can
    assert plan == {1: (T0, T0 + 600_000)}


def test_a_station_that_cannot_take_its_ticket_in_time_holds_the_anchor_back() -> None:
    steak = pc.CourseTicket(1, 600, start_at_ms=T0 + 30_000)
    noodles = pc.CourseTicket(2, 500, start_at_ms=T0 + 130_000)
    due = T0 + 630_000
    # the wok's queue lets a cook take the noodles only at T0 + 400 s
    plan = pc.repace_on_start(T0, [steak, noodles], earliest_ms={2: T0 + 400_000}, due_ms=due)
    # the steak waits for it; the noodles may start now (the queue holds them back anyway)
    assert plan == {1: (T0 + 300_000, T0 + 900_000), 2: (T0, T0 + 900_000)}
    # a queue that makes it in time changes nothing
    plan = pc.repace_on_start(T0, [steak, noodles], earliest_ms={2: T0 + 120_000}, due_ms=due)
    assert plan == {}


def test_started_tickets_hold_their_cooks_and_unstarted_ones_wait_for_now_at_a_live_station() -> (
    None
):
    now = T0 + 100_000
    jobs = [
        pc.Job(1, "grill", T0, 300, started_ms=T0),  # ends T0 + 300 s
        pc.Job(2, "grill", T0, 120, fired_ms=T0 + 1),  # may start, not started
    ]
    # two cooks: one on ticket 1, the other last bumped at T0 (free since, by the bumps)
    by_bumps = pc.project(now, jobs, {"grill": 2}, {"grill": [T0]})
    assert by_bumps.finish_ms[2] == T0 + 120_000  # thought under way since the bump
    live = pc.project(now, jobs, {"grill": 2}, {"grill": [T0]}, live={"grill"})
    assert live.finish_ms[1] == T0 + 300_000
    assert live.finish_ms[2] == now + 120_000  # a cook takes it now at the earliest
    assert live.start_if_ready("grill", 3, 60, T0 + 2) == now + 120_000  # the next cook free


def test_a_ticket_a_queue_holds_back_anyway_may_start_now_and_keeps_its_place() -> None:
    # the wok's one cook has 10 min of tickets fired before; then a course fires
    proj = pc.project(0, [job(9, 0, 600, "wok")], {"grill": 1, "wok": 1})
    course = [pc.PaceTicket(1, "wok", (pc.PaceLine(0, 300), pc.PaceLine(1, 120)))]
    (alone,) = pc.pace(0, course, proj, slack_ms=60_000)
    assert (alone.start_at_ms, alone.due_ms) == (0, 900_000)
    assert alone.line_start_ms == {0: 0, 1: 180_000}  # its longest line first
    # a ticket started late elsewhere, whose own station cannot take it in time either
    steak = pc.CourseTicket(1, 600, start_at_ms=0, started_ms=60_000)
    noodles = pc.CourseTicket(2, 300, start_at_ms=300_000)
    plan = pc.repace_on_start(60_000, [steak, noodles], earliest_ms={2: 500_000})
    assert plan == {2: (60_000, 800_000)}  # may start now; lands when the wok can make it


def test_a_bump_places_again_only_its_station_and_agrees_with_projecting_anew() -> None:
    now = T0 + 200_000
    jobs = [
        pc.Job(1, "grill", T0, 300, fired_ms=T0),
        pc.Job(2, "grill", T0 + 10_000, 400, fired_ms=T0 + 10_000),
        pc.Job(3, "grill", T0 + 20_000, 200, fired_ms=T0 + 20_000),
        pc.Job(4, "wok", T0, 600, fired_ms=T0),
    ]
    freed = {"grill": [T0 - 50_000, T0 - 20_000], "wok": [T0 - 10_000]}
    cooks = {"grill": 2, "wok": 1}
    before = pc.project(now, jobs, cooks, freed)
    after = before.without("grill", 2, now)
    anew = pc.project(
        now, [j for j in jobs if j.ticket_id != 2], cooks, {**freed, "grill": [T0 - 20_000, now]}
    )
    assert after.finish_ms == anew.finish_ms
    assert 2 not in after.finish_ms
    # a started ticket's cook is the one freed
    started = [
        pc.Job(5, "grill", T0, 300, started_ms=T0),  # its cook busy until T0 + 300 s
        pc.Job(3, "grill", T0 + 20_000, 200, fired_ms=T0 + 20_000),
        pc.Job(6, "grill", T0 + 30_000, 300, fired_ms=T0 + 30_000),
    ]
    live = pc.project(now, started, cooks, freed, live={"grill"})
    assert live.finish_ms[6] == T0 + 600_000  # waits for the cook of ticket 5
    assert live.without("grill", 5, now).finish_ms[6] == now + 300_000  # who is free now


def test_a_bump_in_a_queue_past_the_resimulation_cap_costs_no_rescheduling() -> None:
    """A station holding more tickets than `RESIMULATE_MAX` (a kitchen far behind): a bump
    takes its ticket out and leaves the others as last projected (at most a second old)
    instead of scheduling hundreds of tickets again on every bump."""
    now = T0 + 60_000
    n = pc.RESIMULATE_MAX + 50
    jobs = [pc.Job(i, "grill", T0 + i, 300, fired_ms=T0 + i) for i in range(1, n + 1)]
    before = pc.project(now, jobs, {"grill": 2})
    after = before.without("grill", 1, now)
    assert 1 not in after.finish_ms
    assert len(after.jobs["grill"]) == n - 1
    assert all(after.finish_ms[i] == before.finish_ms[i] for i in range(2, n + 1))
    # under the cap the queue is placed again: the cook freed now moves the others earlier
    small = pc.project(now, jobs[:10], {"grill": 2})
    assert small.without("grill", 1, now).finish_ms[3] < small.finish_ms[3]


def test_a_quote_band_is_the_default_until_twenty_quotes_then_their_p10_to_p90() -> None:
    band = pc.QuoteBand()
    now = 10 * 3_600_000
    assert band.factors(now) == (0.75, 1.25, 0)
    assert band.range_s(1200, now) == (900, 1500)
    assert band.range_s(0, now) == (0, 0)
    assert band.range_s(10, now) == (45, 165)  # a minute at least, two minutes wide at least
    for _ in range(19):
        band.add(now - 3_600_000, now - 3_600_000 + 600_000, now - 3_600_000 + 660_000)
    assert band.factors(now)[2] == 0  # nineteen: not yet
    for ratio in (0.5, *[1.0] * 18, 2.0, 3.0):  # 21 more: 40 in all, ratios 0.5 to 3
        band.add(now - 600_000, now, now - 600_000 + int(600_000 * ratio))
    low, high, count = band.factors(now)
    assert count == 40
    assert (low, high) == (1.0, 1.1)  # p10 and p90 (nearest rank) of 19×1.1, 19×1.0, 0.5, 2, 3
    assert band.range_s(1200, now) == (1200, 1320)


def test_a_quote_band_forgets_quotes_settled_more_than_three_hours_ago() -> None:
    band = pc.QuoteBand()
    start = 10 * 3_600_000
    for _ in range(30):
        band.add(start - 1_200_000, start - 600_000, start)  # ready twice as late as quoted
    assert band.factors(start)[:2] == (2.0, 2.0)
    later = start + pc.BAND_WINDOW_MS + 1
    assert band.factors(later) == (0.75, 1.25, 0)

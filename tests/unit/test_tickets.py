"""Kitchen tickets: bumping whole tickets and single items, recalls, and the invariants that
random sequences of bumps and recalls must keep."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.tickets import TicketItem, TicketState, bump, recall
from hub.errors import Conflict, NotFound


def ticket(*idxs: int) -> TicketState:
    return TicketState("open", tuple(TicketItem(i) for i in idxs))


def bumped_idxs(state: TicketState) -> set[int]:
    return {i.idx for i in state.items if i.bumped}


def test_new_ticket_has_not_progressed() -> None:
    state = ticket(0, 2, 5)

    assert state.progressed is False
    assert state.bumped_at is None


def test_bump_whole_ticket() -> None:
    state = ticket(0, 2, 5)

    out = bump(state, None, "t1")

    assert out.status == "bumped"
    assert out.bumped_at == "t1"
    assert [i.bumped for i in out.items] == [True, True, True]
    assert [i.idx for i in out.items] == [0, 2, 5]
    assert out.progressed is True
    assert state == ticket(0, 2, 5)  # the input is untouched


def test_bump_whole_ticket_with_some_items_already_bumped() -> None:
    state = bump(ticket(0, 2, 5), 2, "t1")

    out = bump(state, None, "t2")

    assert (out.status, out.bumped_at, bumped_idxs(out)) == ("bumped", "t2", {0, 2, 5})


def test_bump_items_one_by_one_bumps_the_ticket_with_the_last() -> None:
    state = ticket(3, 4, 9)

    state = bump(state, 4, "t1")
    assert (state.status, state.bumped_at, bumped_idxs(state)) == ("open", None, {4})
    assert state.progressed is True

    state = bump(state, 9, "t2")
    assert (state.status, state.bumped_at, bumped_idxs(state)) == ("open", None, {4, 9})

    state = bump(state, 3, "t3")
    assert (state.status, state.bumped_at, bumped_idxs(state)) == ("bumped", "t3", {3, 4, 9})


def test_bump_of_a_bumped_item_toggles_it_back() -> None:
    state = bump(bump(ticket(0, 1), 1, "t1"), 1, "t2")

    assert state.status == "open"
    assert bumped_idxs(state) == set()
    assert state.progressed is False


def test_single_item_ticket_is_bumped_by_its_item() -> None:
    out = bump(ticket(7), 7, "t1")

    assert (out.status, out.bumped_at) == ("bumped", "t1")


@pytest.mark.parametrize("item", [None, 0, 1])
def test_bump_of_a_bumped_ticket_is_a_conflict(item: int | None) -> None:
    state = bump(ticket(0, 1), None, "t1")

    with pytest.raises(Conflict) as err:
        bump(state, item, "t2")

    assert err.value.code == "conflict"


@pytest.mark.parametrize("item", [3, -1, 100])
def test_bump_of_an_unknown_item_is_not_found(item: int) -> None:
    with pytest.raises(NotFound) as err:
        bump(ticket(0, 1, 2), item, "t1")

    assert err.value.field == "item"
    assert isinstance(err.value, LookupError)


def test_recall_of_a_bumped_ticket_reopens_it() -> None:
    state = bump(bump(ticket(0, 1, 2), 1, "t1"), None, "t2")

    out = recall(state)

    assert out.status == "open"
    assert out.bumped_at is None
    assert [(i.idx, i.bumped) for i in out.items] == [(0, False), (1, False), (2, False)]
    assert bump(out, None, "t3").bumped_at == "t3"


@pytest.mark.parametrize(
    "state",
    [ticket(0, 1), bump(ticket(0, 1), 0, "t1")],
    ids=["fresh", "partly-bumped"],
)
def test_recall_of_an_open_ticket_is_a_conflict(state: TicketState) -> None:
    with pytest.raises(Conflict):
        recall(state)


def test_empty_ticket() -> None:
    state = ticket()

    with pytest.raises(NotFound):
        bump(state, 0, "t1")
    assert bump(state, None, "t1").status == "bumped"


# ---------------------------------------------------------------- random sequences

IDXS = (0, 2, 3, 7)
action = st.one_of(
    st.tuples(st.just("bump"), st.none() | st.sampled_from((*IDXS, 1, 99))),
    st.tuples(st.just("recall"), st.none()),
)


def check_invariants(state: TicketState) -> None:
    assert state.status in ("open", "bumped")
    assert [i.idx for i in state.items] == list(IDXS)
    if state.status == "bumped":
        assert all(i.bumped for i in state.items)
        assert state.bumped_at is not None
    else:
        assert state.bumped_at is None
        assert not all(i.bumped for i in state.items)
    assert state.progressed == (state.status == "bumped" or bool(bumped_idxs(state)))


@given(st.lists(action, max_size=40))
@settings(max_examples=200, deadline=None)
def test_random_bumps_and_recalls_keep_the_invariants(
    actions: list[tuple[str, int | None]],
) -> None:
    state = ticket(*IDXS)
    model_bumped: set[int] = set()  # a simple model the real states must agree with
    for n, (verb, idx) in enumerate(actions):
        now = f"t{n}"
        was_bumped = state.status == "bumped"
        if verb == "recall":
            if was_bumped:
                state = recall(state)
                model_bumped = set()
            else:
                with pytest.raises(Conflict):
                    recall(state)
        elif was_bumped:
            with pytest.raises(Conflict):
                bump(state, idx, now)
        elif idx is not None and idx not in IDXS:
            with pytest.raises(NotFound):
                bump(state, idx, now)
        else:
            state = bump(state, idx, now)
            model_bumped = set(IDXS) if idx is None else model_bumped ^ {idx}
            if model_bumped == set(IDXS):
                assert state.bumped_at == now
        check_invariants(state)
        assert bumped_idxs(state) == model_bumped

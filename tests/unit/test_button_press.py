"""Button agent helpers, pure: edges -> presses (`Debouncer`) and press ids (`PressIds`)."""

from __future__ import annotations

from devices.buttons.press import Debouncer, PressIds


def presses(d: Debouncer, edges: list[tuple[float, bool]]) -> list[float]:
    return [t for t, down in edges if d.edge(down, t)]


def test_a_clean_press_is_one_press() -> None:
    assert presses(Debouncer(0.05), [(1.0, True), (1.2, False)]) == [1.0]


def test_bounce_on_the_way_down_and_up_is_one_press() -> None:
    d = Debouncer(0.05)
    edges = [(1.000, True), (1.002, False), (1.004, True), (1.006, False), (1.008, True)]
    edges += [(1.500, False), (1.502, True), (1.504, False)]  # release bounce
    assert presses(d, edges) == [1.0]
    assert d.ignored == 3


def test_a_held_button_is_one_press_and_the_next_press_counts() -> None:
    d = Debouncer(0.05)
    assert presses(d, [(0.0, True), (30.0, False), (30.2, True), (30.3, False)]) == [0.0, 30.2]


def test_ids_are_unique_per_press_and_per_boot() -> None:
    a, b = PressIds("buttons-front"), PressIds("buttons-front")
    ids = [a() for _ in range(1000)] + [b() for _ in range(1000)]
    assert len(set(ids)) == 2000
    assert ids[0].startswith("buttons-front-")
    assert ids[0].endswith("-1")
    assert a.boot != b.boot


def test_ids_fit_the_contract_even_for_long_names() -> None:
    ids = PressIds("x" * 48, boot="cafebabe")
    for _ in range(10):
        i = ids()
    assert 0 < len(i) <= 64
    assert i.endswith("-cafebabe-10")

from __future__ import annotations

import pytest

from channels import pacing
from channels.pacing import Pace, Pacer

TELEGRAM = Pace(per_address=1.0, per_address_burst=3, overall=30.0, overall_burst=30)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_to_one_person_then_one_a_second() -> None:
    clock = Clock()
    pacer = Pacer(TELEGRAM, clock)

    assert [pacer.delay("amina") for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert pacer.delay("binod") == 0.0


def test_the_bucket_refills_with_time() -> None:
    clock = Clock()
    pacer = Pacer(TELEGRAM, clock)
    for _ in range(3):
        pacer.delay("amina")

    clock.now += 2.0

    assert [pacer.delay("amina") for _ in range(3)] == [0.0, 0.0, 1.0]


def test_the_overall_rate_binds_across_people() -> None:
    clock = Clock()
    pacer = Pacer(TELEGRAM, clock)

    delays = [pacer.delay(f"person-{n}") for n in range(32)]

    assert delays[:30] == [0.0] * 30
    assert delays[30:] == pytest.approx([1 / 30, 2 / 30])


def test_idle_people_are_forgotten_when_there_are_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "MAX_TRACKED", 3)
    clock = Clock()
    pacer = Pacer(
        Pace(per_address=1.0, per_address_burst=1, overall=1000, overall_burst=1000), clock
    )
    for name in ("a", "b", "c"):
        pacer.delay(name)
    clock.now += 5.0
    pacer.delay("c")

    pacer.delay("d")

    assert sorted(pacer._people) == ["c", "d"]


async def test_waiting_sleeps_for_the_delay() -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    pace = Pace(per_address=2.0, per_address_burst=1, overall=100, overall_burst=100)
    pacer = Pacer(pace, Clock(), sleep)

    await pacer.wait("amina")
    await pacer.wait("amina")

    assert slept == [0.5]

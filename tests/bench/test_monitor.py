from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.bench import monitor
from tests.bench.monitor import Monitor


def _pressure(path: Path, waited_us: int) -> None:
    path.write_text(
        f"some avg10=1.00 avg60=2.00 avg300=3.00 total={waited_us}\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )


def test_cpu_pressure_is_the_share_of_the_phase_some_task_waited_for_a_core(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pressure = tmp_path / "cpu"
    monkeypatch.setattr(monitor, "PRESSURE", str(pressure))
    watched = Monitor({"bench": os.getpid()}, alone=frozenset({"bench"}))
    _pressure(pressure, 5_000_000)

    watched.phase("helpline-1")
    time.sleep(0.05)
    _pressure(pressure, 5_250_000)  # a quarter of a second waited
    watched.end_phase()

    figures = watched.figures()["helpline-1"]
    assert figures["machine"]["cpu_pressure_percent"] == pytest.approx(
        100 * 0.25 / figures["seconds"]
    )
    merged = watched.by_kind()["helpline"]["machine"]
    assert merged["cpu_pressure_percent"] == figures["machine"]["cpu_pressure_percent"]


def test_without_pressure_information_the_figure_is_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitor, "PRESSURE", str(tmp_path / "missing"))
    watched = Monitor({"bench": os.getpid()}, alone=frozenset({"bench"}))

    watched.phase("reference-1")
    watched.end_phase()

    assert watched.figures()["reference-1"]["machine"]["cpu_pressure_percent"] is None
    assert watched.by_kind()["reference"]["machine"]["cpu_pressure_percent"] is None

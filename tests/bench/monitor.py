"""CPU and memory of each process of the stack, sampled with psutil while the benchmark runs.

Each named process counts with its children, except those named ``alone`` (the
benchmark's own process, whose children are the stack). ``phase(name)`` starts a phase: CPU seconds
are the difference of the processes' CPU times between its start and the next phase, and
the peak resident memory is the highest sample seen during it. The machine's own load
(every process, ours or not) is recorded beside, since other work shares the cores,
with the kernel's CPU pressure: the share of the time some runnable task waited for a
core (``/proc/pressure/cpu``), which tells a starved process from an idle one.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

SAMPLE_SECONDS = 0.2
PRESSURE = "/proc/pressure/cpu"


@dataclass
class Phase:
    name: str
    started: float
    cpu_at_start: dict[str, float]
    machine_at_start: tuple[float, float]
    waited_at_start: float | None
    load_at_start: tuple[float, float, float]
    peak_rss: dict[str, int] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


class Monitor:
    def __init__(self, pids: dict[str, int], *, alone: frozenset[str] = frozenset()) -> None:
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.alone = alone
        self.phases: list[Phase] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample_forever, name="monitor", daemon=True)

    def _tree(self, name: str) -> list[psutil.Process]:
        process = self.processes[name]
        if name in self.alone:
            return [process]
        with contextlib.suppress(psutil.Error):
            return [process, *process.children(recursive=True)]
        return []

    def cpu_seconds(self, name: str) -> float:
        total = 0.0
        for process in self._tree(name):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def rss(self, name: str) -> int:
        total = 0
        for process in self._tree(name):
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    @staticmethod
    def _machine() -> tuple[float, float]:
        """(busy, total) CPU seconds of the whole machine so far."""
        times = psutil.cpu_times()
        idle = times.idle + getattr(times, "iowait", 0.0)
        total = sum(times)
        return total - idle, total

    @staticmethod
    def _waited() -> float | None:
        """Seconds so far during which some runnable task waited for a core (None: no PSI)."""
        try:
            with open(PRESSURE) as pressure:
                for line in pressure:
                    if line.startswith("some "):
                        return int(line.rsplit("total=", 1)[1]) / 1e6
        except (OSError, ValueError, IndexError):
            pass
        return None

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.end_phase()
        self._stopping.set()
        self._thread.join(timeout=5)

    def phase(self, name: str) -> None:
        self.end_phase()
        with self._lock:
            self.phases.append(
                Phase(
                    name=name,
                    started=time.monotonic(),
                    cpu_at_start={n: self.cpu_seconds(n) for n in self.processes},
                    machine_at_start=self._machine(),
                    waited_at_start=self._waited(),
                    load_at_start=os.getloadavg(),
                )
            )

    def end_phase(self) -> None:
        with self._lock:
            if not self.phases or self.phases[-1].figures:
                return
            phase = self.phases[-1]
            wall = time.monotonic() - phase.started
            busy, total = self._machine()
            busy -= phase.machine_at_start[0]
            total -= phase.machine_at_start[1]
            cpu = {n: self.cpu_seconds(n) - phase.cpu_at_start[n] for n in self.processes}
            ours = sum(cpu.values())
            waited = self._waited()
            start = phase.waited_at_start
            cores = psutil.cpu_count() or 1
            phase.figures = {
                "seconds": wall,
                "processes": {
                    name: {
                        "cpu_seconds": cpu[name],
                        "cpu_percent_of_one_core": 100 * cpu[name] / wall if wall else None,
                        "peak_rss_mb": phase.peak_rss.get(name, 0) / 2**20,
                    }
                    for name in self.processes
                },
                "machine": {
                    "cores": cores,
                    "busy_percent": 100 * busy / total if total else None,
                    # What else ran meanwhile: other engineers' work, PostgreSQL, Redis.
                    "busy_outside_stack_percent": 100 * max(0.0, busy - ours) / total
                    if total
                    else None,
                    "cpu_pressure_percent": 100 * (waited - start) / wall
                    if waited is not None and start is not None and wall
                    else None,
                    "load_average_1m_at_start": phase.load_at_start[0],
                    "load_average_1m_at_end": os.getloadavg()[0],
                },
            }

    def _sample_forever(self) -> None:
        while not self._stopping.wait(SAMPLE_SECONDS):
            with self._lock:
                if not self.phases or self.phases[-1].figures:
                    continue
                phase = self.phases[-1]
                for name in self.processes:
                    phase.peak_rss[name] = max(phase.peak_rss.get(name, 0), self.rss(name))

    def figures(self) -> dict[str, dict[str, Any]]:
        return {phase.name: phase.figures for phase in self.phases}

    def by_kind(self) -> dict[str, dict[str, Any]]:
        """Phases named ``kind-N`` merged: CPU over their total time, the highest peak."""
        merged: dict[str, dict[str, Any]] = {}
        for phase in self.phases:
            kind = phase.name.rsplit("-", 1)[0]
            into = merged.setdefault(kind, {"seconds": 0.0, "cpu": {}, "peak": {}, "busy": []})
            into["seconds"] += phase.figures["seconds"]
            into["busy"].append(phase.figures["machine"])
            for name, values in phase.figures["processes"].items():
                into["cpu"][name] = into["cpu"].get(name, 0.0) + values["cpu_seconds"]
                into["peak"][name] = max(into["peak"].get(name, 0.0), values["peak_rss_mb"])
        result: dict[str, dict[str, Any]] = {}
        for kind, into in merged.items():
            seconds = into["seconds"]
            weights = [m for m in into["busy"] if m["busy_percent"] is not None]
            pressures = [m["cpu_pressure_percent"] for m in into["busy"]]
            result[kind] = {
                "seconds": seconds,
                "processes": {
                    name: {
                        "cpu_seconds": cpu,
                        "cpu_percent_of_one_core": 100 * cpu / seconds if seconds else None,
                        "peak_rss_mb": into["peak"][name],
                    }
                    for name, cpu in into["cpu"].items()
                },
                "machine": {
                    **{
                        key: sum(m[key] for m in weights) / len(weights) if weights else None
                        for key in (
                            "busy_percent",
                            "busy_outside_stack_percent",
                            "load_average_1m_at_start",
                        )
                    },
                    "cpu_pressure_percent": sum(pressures) / len(pressures)
                    if pressures and None not in pressures
                    else None,
                },
            }
        return result

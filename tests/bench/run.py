"""``make bench``: the whole helpline against bare Rasa, on this machine, in one run.

1. A dedicated PostgreSQL database (created if missing, emptied) and Redis database
   (flushed), the fake Twilio API on loopback, and the stack as ``make run`` starts it:
   Rasa (``--rasa-replicas`` processes), the action server and ``helpline serve``
   (or ``helpline serve --no-worker`` and ``--workers`` worker processes; with
   ``--nlg-apart``, one more ``helpline serve --no-worker`` answers Rasa's NLG requests).
2. Warm-up: a few conversations through both paths, so that neither pays first-call costs.
3. Reference: the scripts straight to Rasa's REST channel. Rasa renders every text
   through the same NLG endpoint (the helpline's ``POST /nlg``) in both phases, so the
   reference costs what Rasa costs in production, no less.
4. Helpline: the same scripts, at the same concurrency, as signed Twilio webhooks.
5. The table, the ratio lines, ``var/bench/results.json`` and ``var/bench/latency.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.db import normalise_url
from bot.rasa_client import replica_for
from tests.bench import figures, load
from tests.bench.figures import Turn
from tests.bench.monitor import Monitor
from tests.helpers.fake_twilio import ACCOUNT_SID, AUTH_TOKEN
from tests.helpers.stack import HELPLINE, ROOT, Stack, StackError, free_port, started

DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
OUT = ROOT / "var" / "bench"
WARM_UP_CONVERSATIONS = 12


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make bench", description=__doc__.split("\n\n", 1)[0] if __doc__ else None
    )
    parser.add_argument("--rasa-replicas", type=int, default=1, help="Rasa processes (default 1)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="separate `helpline worker` processes (default 0: the worker runs in the service)",
    )
    parser.add_argument("--conversations", type=int, default=96, help="people in each phase")
    parser.add_argument("--concurrency", type=int, default=32, help="people writing at once")
    parser.add_argument(
        "--pause", type=float, default=0.4, help="seconds a person waits after an answer"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="alternate reference and helpline this many times (default 2)",
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for a reply")
    parser.add_argument(
        "--redeliver-every",
        type=int,
        default=10,
        help="deliver every Nth webhook twice, as Twilio does after a slow answer (0: never)",
    )
    parser.add_argument(
        "--no-status-callbacks",
        action="store_true",
        help="the fake Twilio posts no delivery reports",
    )
    parser.add_argument(
        "--nlg-apart",
        action="store_true",
        help="Rasa's NLG requests to a `helpline serve --no-worker` of their own",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the helpline during its phase"
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DATABASE_URL", DATABASE_URL)
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", REDIS_URL))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if min(args.rasa_replicas, args.concurrency, args.rounds) < 1 or args.workers < 0:
        parser.error("--rasa-replicas, --concurrency and --rounds are at least 1, --workers 0+")
    return args


def fresh_database(url: str) -> None:
    """Create the database if missing, and empty it: the benchmark owns it."""
    target = make_url(normalise_url(url))
    if not target.drivername.startswith("postgresql"):
        raise SystemExit("the benchmark runs on PostgreSQL: --database-url postgresql://...")
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()
    database = create_engine(target)
    with database.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    database.dispose()


def stack_env(args: argparse.Namespace, fake: load.BenchTwilio) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "TELEGRAM_"))}
    env.update(
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_SMS_FROM=load.HELPLINE_NUMBER,
        TWILIO_WHATSAPP_FROM=load.HELPLINE_NUMBER,
        TWILIO_API_BASE_URL=fake.url,
        LOG_LEVEL="INFO",
    )
    for name in ("PUBLIC_BASE_URL", "HELPLINE_PORT", "HELPLINE_VAR_DIR"):
        env.pop(name, None)
    return env


class Profiler:
    """py-spy attached to one process; collapsed stacks written when stopped.

    Only the thread holding the GIL is sampled (``--gil``): where the process spends
    CPU in Python, not where it waits for PostgreSQL, Redis or Rasa.
    """

    def __init__(self, pid: int, path: Path) -> None:
        self.path = path
        spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
        self.process = subprocess.Popen(
            [
                *(spy, "record", "--pid", str(pid), "--rate", "100", "--nonblocking", "--gil"),
                *("--format", "raw", "--output", str(path)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def hot_spots(path: Path, limit: int = 15) -> list[tuple[str, float]]:
    """The project's functions by share of the CPU samples they were on the stack in."""
    if not path.is_file():
        return []
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        seen = set()
        for frame in stack.split(";"):
            if ("(bot/" in frame or "(channels/" in frame) and frame not in seen:
                seen.add(frame)
                inclusive[frame] += int(count)
    return [(frame, 100 * n / total) for frame, n in inclusive.most_common(limit)] if total else []


class Bench:
    """The measured phases against one running stack."""

    def __init__(
        self, args: argparse.Namespace, stack: Stack, fake: load.BenchTwilio, monitor: Monitor
    ) -> None:
        self.args, self.stack, self.fake, self.monitor = args, stack, fake, monitor
        self.scripts = load.load_scripts()
        self.common = {
            "concurrency": args.concurrency,
            "pause": args.pause,
            "timeout": args.timeout,
        }
        self.reference_rounds: list[list[Turn]] = []
        self.helpline_rounds: list[list[Turn]] = []
        self.strays = 0

    def replica_of(self, sender: str) -> int:
        return replica_for(sender, len(self.stack.rasa_urls))

    async def reference(self, people: list[load.Conversation]) -> list[Turn]:
        return await load.reference(
            people, rasa_urls=self.stack.rasa_urls, replica_of=self.replica_of, **self.common
        )

    async def helpline(
        self, people: list[load.Conversation], expected: dict[tuple[int, int], int] | None
    ) -> list[Turn]:
        before = len(self.fake.sends())
        turns = await load.helpline(
            people,
            base_url=self.stack.base,
            public_base_url=self.stack.env.get("PUBLIC_BASE_URL", self.stack.base),
            auth_token=AUTH_TOKEN,
            fake=self.fake,
            expected=expected,
            redeliver_every=self.args.redeliver_every,
            **self.common,
        )
        # Replies still on their way (a late part, a retry) count too.
        await asyncio.sleep(2 * self.args.pause)
        address_of = {p.number: p.address for p in people}
        self.strays += figures.attribute(self.fake.sends()[before:], turns, address_of)
        return turns

    async def warm_up(self) -> None:
        self.monitor.phase("warm-up")
        count = min(WARM_UP_CONVERSATIONS, self.args.conversations)
        await self.reference(load.conversations(self.scripts, count, series=1))
        await self.helpline(load.conversations(self.scripts, count, series=2), None)
        self.monitor.end_phase()

    async def round(self, number: int) -> None:
        """One reference and one helpline phase; every other round the helpline goes first.

        Alternating weighs a change in the machine's other load on both sides alike. Every
        round replays the same scripts under the same numbers, so when the helpline goes
        first the previous round's reference says which of its turns stay silent.
        """
        per_round = max(1, self.args.conversations // self.args.rounds)
        people = load.conversations(self.scripts, per_round, series=10 + 2 * number)
        helpline_people = load.conversations(self.scripts, per_round, series=11 + 2 * number)
        reference: list[Turn] = []
        turns: list[Turn] = []
        for side in ("reference", "helpline") if number % 2 == 0 else ("helpline", "reference"):
            self.monitor.phase(f"{side}-{number + 1}")
            if side == "reference":
                reference = await self.reference(people)
            else:
                known = reference or self.reference_rounds[-1]
                turns = await self.helpline(helpline_people, figures.expectations(known))
            self.monitor.end_phase()
        expected = figures.expectations(reference)
        for turn in turns:
            turn.expected_replies = expected.get((turn.conversation, turn.index), 1)
        self.reference_rounds.append(reference)
        self.helpline_rounds.append(turns)

    async def run(self) -> dict[str, Any]:
        await self.warm_up()
        profiler = None
        if self.args.profile:
            path = self.args.out / "helpline-profile.txt"
            profiler = Profiler(self.stack.processes["helpline"].pid, path)
        for number in range(self.args.rounds):
            await self.round(number)
        if profiler is not None:
            profiler.stop()
        reference = [t for r in self.reference_rounds for t in r]
        turns = [t for r in self.helpline_rounds for t in r]
        return {
            "reference": figures.summarise(self.reference_rounds, acknowledgements=False),
            "helpline": figures.summarise(self.helpline_rounds, acknowledgements=True)
            | {"stray_sends": self.strays},
            "latencies_ms": {
                "reference": [t.end_to_end_ms for t in reference if t.end_to_end_ms is not None],
                "helpline": [t.end_to_end_ms for t in turns if t.end_to_end_ms is not None],
                "helpline_ack": [t.ack_ms for t in turns if t.ack_ms is not None],
            },
            "turns": {"reference": _rows(reference), "helpline": _rows(turns)},
        }


def _rows(turns: list[Turn]) -> list[dict[str, Any]]:
    return [
        {
            "conversation": t.conversation,
            "turn": t.index,
            "status": t.status,
            "ack_ms": t.ack_ms,
            "end_to_end_ms": t.end_to_end_ms,
            "replies": len(t.replies),
            "expected_replies": t.expected_replies,
        }
        for t in turns
    ]


def report(results: dict[str, Any], usage: dict[str, Any]) -> str:
    ours, ref = results["helpline"], results["reference"]

    def both(key: str, sub: str | None = None) -> list[Any]:
        return [(phase.get(key) or {}).get(sub) if sub else phase.get(key) for phase in (ours, ref)]

    rows: list[tuple[str, list[Any]]] = [
        ("messages (turns)", both("turns")),
        ("replies", both("replies")),
        ("throughput, messages/s", both("throughput_per_s")),
        ("webhook ack p50 ms", [ours["ack_ms"]["p50"], None]),
        ("webhook ack p99 ms", [ours["ack_ms"]["p99"], None]),
        ("webhook ack max ms", [ours["ack_ms"]["max"], None]),
        ("first reply p50 ms", both("first_reply_ms", "p50")),
        ("end-to-end p50 ms", both("end_to_end_ms", "p50")),
        ("end-to-end p95 ms", both("end_to_end_ms", "p95")),
        ("end-to-end p99 ms", both("end_to_end_ms", "p99")),
        ("end-to-end max ms", both("end_to_end_ms", "max")),
        ("lost", both("lost")),
        ("duplicated", both("duplicated")),
        ("replies after a handover", [ours["unexpected"], None]),
        ("webhooks delivered twice", [ours["redelivered"], None]),
    ]
    phase_usage = [usage.get("helpline", {}), usage.get("reference", {})]
    for name in phase_usage[0].get("processes", {}):
        rows.append(
            (
                f"{name}: CPU % of a core",
                [u.get("processes", {}).get(name, {}).get("cpu_percent_of_one_core") for u in phase_usage],
            )
        )  # fmt: skip
        rows.append(
            (
                f"{name}: peak RSS MB",
                [u.get("processes", {}).get(name, {}).get("peak_rss_mb") for u in phase_usage],
            )
        )
    rows.append(("machine busy %", [u.get("machine", {}).get("busy_percent") for u in phase_usage]))
    rows.append(
        (
            "  outside the stack (others, PostgreSQL, Redis) %",
            [u.get("machine", {}).get("busy_outside_stack_percent") for u in phase_usage],
        )
    )
    rows.append(
        (
            "  CPU pressure: some task waited for a core, % of time",
            [u.get("machine", {}).get("cpu_pressure_percent") for u in phase_usage],
        )
    )
    rows.append(
        (
            "load average (1 min) at start",
            [u.get("machine", {}).get("load_average_1m_at_start") for u in phase_usage],
        )
    )
    return figures.table(rows, ["", "helpline", "rasa (REST)"])


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latencies = results["latencies_ms"]
    figure, axes = plt.subplots(figsize=(9, 5))
    for key, label in (
        ("reference", "bare Rasa (REST), response"),
        ("helpline", "helpline, webhook to last reply sent"),
        ("helpline_ack", "helpline, webhook acknowledgement"),
    ):
        values = sorted(latencies[key])
        if values:
            axes.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    axes.set_xscale("log")
    axes.set_xlabel("latency, ms (log scale)")
    axes.set_ylabel("fraction of messages")
    axes.set_title("Latency distributions, same messages at the same concurrency")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    var = args.out / "stack"
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir()
    began = time.monotonic()
    fresh_database(args.database_url)
    redis.Redis.from_url(args.redis_url).flushdb()
    fake = load.BenchTwilio(callbacks=not args.no_status_callbacks).start()
    helpline_command = [str(HELPLINE), "serve", *(["--no-worker"] if args.workers else [])]
    workers = {f"worker-{n + 1}": [str(HELPLINE), "worker"] for n in range(args.workers)}
    nlg_port = free_port() if args.nlg_apart else None
    if nlg_port:
        workers["nlg"] = ["env", f"HELPLINE_PORT={nlg_port}", str(HELPLINE), "serve", "--no-worker"]
    print(
        f"starting the stack: {args.rasa_replicas} Rasa, {args.workers or 'in-service'} "
        f"worker(s), {args.conversations} conversations, {args.concurrency} at once",
        flush=True,
    )
    try:
        with started(
            var,
            stack_env(args, fake),
            rasa_replicas=args.rasa_replicas,
            helpline=helpline_command,
            more=workers,
            nlg_port=nlg_port,
        ) as stack:
            stack.cli("orgs", "create", "Benchmark desk")
            print(f"stack ready in {time.monotonic() - began:.0f}s; measuring", flush=True)
            pids = {name: child.pid for name, child in stack.processes.items()}
            ours = "bench (load + fake Twilio)"
            monitor = Monitor(pids | {ours: os.getpid()}, alone=frozenset({ours})).start()
            try:
                results = asyncio.run(Bench(args, stack, fake, monitor).run())
            finally:
                monitor.stop()
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        fake.stop()
    usage = monitor.by_kind()
    results["usage"] = usage
    results["usage_by_phase"] = monitor.figures()
    results["ratios"] = figures.ratio_lines(results["helpline"], results["reference"])
    results["settings"] = {
        k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
    } | {
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "seconds": time.monotonic() - began,
    }
    if args.profile:
        results["profile"] = hot_spots(args.out / "helpline-profile.txt")
    (args.out / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    plot(results, args.out / "latency.png")
    print()
    if results.get("profile"):
        print("helpline hot spots (share of samples on the stack):")
        for frame, share in results["profile"]:
            print(f"  {share:5.1f}%  {frame}")
        print()
    print(report(results, usage))
    print(f"\nfigures: {args.out / 'results.json'}; plot: {args.out / 'latency.png'}")
    print("\n".join(results["ratios"]))
    return 0

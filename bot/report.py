"""Figures for advocacy: ``helpline report`` and the supervisors' figures page.

Only aggregates leave the system. Every count is of cases (or referrals) in the
period; a count from 1 to 4 is suppressed (shown as "<5"), and when a breakdown
would suppress exactly one cell, the next smallest is suppressed too so that it
cannot be worked out from the total. No free text, no identifiers, no dates finer
than a week. Cases whose transcripts retention has erased are counted from the
anonymous daily counts (``daily_counts``) they left behind, which keep their
channel, language, outcome and red flags, but not their country or response time.
"""

from __future__ import annotations

import base64
import csv
import io
import statistics
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.languages import NATIVE_NAMES
from bot.models import Case, CaseEvent, DailyCount, Referral

THRESHOLD = 5
SUPPRESSED = "<5"
K = TypeVar("K", bound=Hashable)

LANGUAGE_NAMES = {
    "en": "English",
    "ar": "Arabic",
    "fr": "French",
    "es": "Spanish",
    "tl": "Tagalog",
    "id": "Indonesian",
    "ne": "Nepali",
    "am": "Amharic",
}
RESPONSE_BUCKETS: tuple[tuple[str, timedelta | None], ...] = (
    ("under 15 minutes", timedelta(minutes=15)),
    ("15 to 60 minutes", timedelta(hours=1)),
    ("1 to 4 hours", timedelta(hours=4)),
    ("4 to 24 hours", timedelta(hours=24)),
    ("over 24 hours", None),
)
NO_RESPONSE = "no response recorded"
REFERRAL_STATUSES = ("sent", "accepted", "declined", "completed", "no_contact")
FINISHED = ("completed", "declined", "no_contact")


def suppress(counts: Mapping[K, int]) -> dict[K, int | None]:
    """Counts from 1 to 4 become None; a lone suppressed cell takes the next smallest with it."""
    shown: dict[K, int | None] = {
        key: (None if 0 < value < THRESHOLD else value) for key, value in counts.items()
    }
    hidden = [key for key, value in shown.items() if value is None]
    if len(hidden) == 1:
        visible = sorted((value, str(key), key) for key, value in shown.items() if value)
        if visible:
            shown[visible[0][2]] = None
    return shown


def shown(value: int | None) -> str:
    return SUPPRESSED if value is None else str(value)


@dataclass
class Table:
    """One breakdown: its CSV name, a title, and rows of (label, count or None)."""

    name: str
    title: str
    label: str
    rows: list[tuple[str, int | None]]
    note: str = ""

    def csv_rows(self) -> list[list[str]]:
        return [[self.label, "count"], *([label, shown(v)] for label, v in self.rows)]


@dataclass
class Grid:
    """A breakdown by week: rows are series (indicators), columns are weeks."""

    name: str
    title: str
    weeks: list[date]
    series: dict[str, list[int | None]]

    def csv_rows(self) -> list[list[str]]:
        return [
            ["indicator", *(w.isoformat() for w in self.weeks)],
            *([name, *(shown(v) for v in values)] for name, values in self.series.items()),
        ]


@dataclass
class Report:
    start: date
    end: date
    scope: str
    total_cases: int | None
    weekly: Table
    language: Table
    channel: Table
    country: Table
    indicators: Table
    indicators_weekly: Grid
    first_response: Table
    median_first_response_minutes: float | None
    outcomes: Table
    referrals: Table
    referral_completion: float | None
    notes: list[str] = field(default_factory=list)

    def tables(self) -> list[Table]:
        return [
            self.weekly,
            self.language,
            self.channel,
            self.country,
            self.indicators,
            self.first_response,
            self.outcomes,
            self.referrals,
        ]


def _week(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weeks_between(start: date, end: date) -> list[date]:
    first, last = _week(start), _week(end)
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
    )


def _table(
    name: str, title: str, label: str, counts: Counter[str], order: Iterable[str] | None = None
) -> Table:
    keys = list(order) if order is not None else [k for k, _ in counts.most_common()]
    cells = suppress({k: counts.get(k, 0) for k in keys})
    return Table(name, title, label, [(k, cells[k]) for k in keys])


def _humanise(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _language(code: str) -> str:
    return f"{LANGUAGE_NAMES.get(code, code)} ({code})" if code in NATIVE_NAMES else code


def build(
    session: Session, start: date, end: date, *, organisation_id: int | None = None
) -> Report:
    """The figures of cases opened from ``start`` to ``end`` inclusive."""
    if end < start:
        raise ValueError("the period ends before it starts")
    low, high = _bounds(start, end)
    query = select(Case).where(Case.opened_at >= low, Case.opened_at < high)
    if organisation_id is not None:
        query = query.where(Case.organisation_id == organisation_id)
    found = list(session.scalars(query))
    weeks = weeks_between(start, end)

    per_week: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    indicators: Counter[str] = Counter()
    indicator_weeks: Counter[tuple[str, date]] = Counter()
    response: Counter[str] = Counter()
    minutes: list[float] = []

    codes: dict[int, set[str]] = {case.id: set() for case in found}
    if found:
        for case_id, data in session.execute(
            select(CaseEvent.case_id, CaseEvent.data).where(
                CaseEvent.case_id.in_(list(codes)), CaseEvent.kind == "flagged"
            )
        ):
            codes[case_id].update(str(c) for c in (data or {}).get("codes", []))
    for case in found:
        week = _week(case.opened_at.date())
        per_week[week.isoformat()] += 1
        languages[_language(case.language)] += 1
        channels[case.channel] += 1
        countries[case.country or "unknown"] += 1
        outcomes[_humanise(case.outcome) if case.outcome else "Still open"] += 1
        for code in codes[case.id]:
            indicators[_humanise(code)] += 1
            indicator_weeks[(_humanise(code), week)] += 1
        if case.first_response_at is not None:
            waited = case.first_response_at - case.opened_at
            minutes.append(waited.total_seconds() / 60)
            response[
                next(n for n, limit in RESPONSE_BUCKETS if limit is None or waited < limit)
            ] += 1
        else:
            response[NO_RESPONSE] += 1

    notes: list[str] = []
    if organisation_id is None:
        erased = 0
        for row in session.scalars(
            select(DailyCount).where(DailyCount.day >= start, DailyCount.day <= end)
        ):
            week = _week(row.day)
            if row.metric == "cases":
                erased += row.count
                per_week[week.isoformat()] += row.count
                languages[_language(row.language)] += row.count
                channels[row.channel] += row.count
                countries["unknown (erased)"] += row.count
            elif row.metric.startswith("outcome:"):
                outcome = row.metric.split(":", 1)[1]
                outcomes["Still open" if outcome == "none" else _humanise(outcome)] += row.count
            elif row.metric.startswith("indicator:"):
                code = _humanise(row.metric.split(":", 1)[1])
                indicators[code] += row.count
                indicator_weeks[(code, week)] += row.count
        if erased:
            notes.append(
                f"{shown(erased if erased >= THRESHOLD else None)} cases of the period were erased "
                "by retention: they are counted by week, language, channel, outcome and red flag, "
                "but their country and response time are no longer known."
            )

    referral_query = select(Referral.status).where(
        Referral.created_at >= low, Referral.created_at < high
    )
    if organisation_id is not None:
        referral_query = referral_query.where(Referral.from_organisation_id == organisation_id)
    referral_counts: Counter[str] = Counter(session.scalars(referral_query))
    finished = sum(referral_counts[s] for s in FINISHED)
    referral_table = _table(
        "referrals",
        "Referrals by status",
        "status",
        Counter({_humanise(k): v for k, v in referral_counts.items()}),
        [_humanise(s) for s in REFERRAL_STATUSES],
    )
    # The rate would give a hidden count away (finished = completed / rate): shown only
    # when none of the counts it is made of is hidden.
    parts = {_humanise(s) for s in FINISHED}
    hidden = any(value is None for label, value in referral_table.rows if label in parts)
    completion = (
        referral_counts["completed"] / finished if finished >= THRESHOLD and not hidden else None
    )

    total = sum(per_week.values())
    indicator_names = [name for name, _ in indicators.most_common()]
    grid = {
        name: suppress({w: indicator_weeks.get((name, w), 0) for w in weeks})
        for name in indicator_names
    }
    return Report(
        start=start,
        end=end,
        scope="the whole helpline" if organisation_id is None else "one organisation",
        total_cases=total if total == 0 or total >= THRESHOLD else None,
        weekly=_table(
            "cases_by_week",
            "Cases by week",
            "week starting",
            per_week,
            [w.isoformat() for w in weeks],
        ),
        language=_table("cases_by_language", "Cases by language", "language", languages),
        channel=_table("cases_by_channel", "Cases by channel", "channel", channels),
        country=_table("cases_by_country", "Cases by country", "country", countries),
        indicators=_table(
            "red_flags", "Cases with each red-flag indicator", "indicator", indicators
        ),
        indicators_weekly=Grid(
            "red_flags_by_week",
            "Red-flag indicators by week",
            weeks,
            {name: [grid[name][w] for w in weeks] for name in indicator_names},
        ),
        first_response=_table(
            "time_to_first_response",
            "Time to a caseworker's first response",
            "waited",
            response,
            [name for name, _ in RESPONSE_BUCKETS] + [NO_RESPONSE],
        ),
        median_first_response_minutes=statistics.median(minutes)
        if len(minutes) >= THRESHOLD
        else None,
        outcomes=_table("outcomes", "Outcomes", "outcome", outcomes),
        referrals=referral_table,
        referral_completion=completion,
        notes=notes,
    )


# ---------------------------------------------------------------- charts

PALETTE = {
    "primary": "#2a6f97",
    "accent": "#e07a5f",
    "muted": "#d9dee3",
    "text": "#243447",
    "grid": "#eef1f4",
}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.family": "DejaVu Sans",
            "font.size": 10,
            "axes.edgecolor": PALETTE["muted"],
            "axes.labelcolor": PALETTE["text"],
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlecolor": PALETTE["text"],
            "axes.titlelocation": "left",
            "xtick.color": PALETTE["text"],
            "ytick.color": PALETTE["text"],
            "axes.spines.top": False,
            "axes.spines.right": False,
            "svg.hashsalt": "helpline",
        }
    )
    return plt


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(figure)
    return buffer.getvalue()


def _bars(table: Table, *, horizontal: bool, color: str) -> bytes:
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    labels = [label for label, _ in table.rows] or ["no cases"]
    values = [v or 0 for _, v in table.rows] or [0]
    hidden = [v is None for _, v in table.rows] or [False]
    height = max(2.2, 0.42 * len(labels) + 1.0) if horizontal else 3.4
    figure, axes = plt.subplots(figsize=(8, height))
    # A suppressed cell is a pale hatched bar halfway to the threshold, marked "<5".
    drawn = [THRESHOLD / 2 if h else v for v, h in zip(values, hidden, strict=True)]
    colors = [PALETTE["muted"] if h else color for h in hidden]
    positions = range(len(labels))
    if horizontal:
        bars = axes.barh(positions, drawn, color=colors, height=0.65)
        axes.set_yticks(list(positions), labels)
        axes.invert_yaxis()
        axes.xaxis.grid(True, color=PALETTE["grid"])
    else:
        bars = axes.bar(positions, drawn, color=colors, width=0.7)
        axes.set_xticks(
            list(positions),
            labels,
            rotation=45 if len(labels) > 6 else 0,
            ha="right" if len(labels) > 6 else "center",
        )
        axes.yaxis.grid(True, color=PALETTE["grid"])
    axes.set_axisbelow(True)
    (axes.xaxis if horizontal else axes.yaxis).set_major_locator(MaxNLocator(integer=True))
    for bar, value, h in zip(bars, values, hidden, strict=True):
        if h:
            bar.set_hatch("///")
            bar.set_edgecolor("#b8c1ca")
        text = SUPPRESSED if h else str(value)
        if horizontal:
            axes.annotate(
                text,
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                color=PALETTE["text"],
            )
        else:
            axes.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                color=PALETTE["text"],
            )
    axes.set_title(table.title)
    axes.margins(x=0.08) if horizontal else axes.margins(y=0.15)
    return _png(figure)


def _heatmap(grid: Grid) -> bytes:
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    names = list(grid.series) or ["no red flags recorded"]
    figure, axes = plt.subplots(figsize=(8, max(2.2, 0.45 * len(names) + 1.4)))
    values = [[(v or 0) for v in grid.series.get(n, [0] * len(grid.weeks))] for n in names]
    peak = max([max(row) for row in values] + [1])
    axes.imshow(values, aspect="auto", cmap="Blues", vmin=0, vmax=peak * 1.15)
    for r, name in enumerate(names):
        for c, value in enumerate(grid.series.get(name, [])):
            if value is None:
                axes.add_patch(
                    Rectangle(
                        (c - 0.5, r - 0.5),
                        1,
                        1,
                        facecolor=PALETTE["muted"],
                        hatch="///",
                        edgecolor="#b8c1ca",
                    )
                )
    for r, name in enumerate(names):
        for c, value in enumerate(grid.series.get(name, [0] * len(grid.weeks))):
            text = SUPPRESSED if value is None else ("" if value == 0 else str(value))
            strong = value is not None and value > peak * 0.6
            axes.text(
                c,
                r,
                text,
                ha="center",
                va="center",
                fontsize=9,
                color="white" if strong else PALETTE["text"],
            )
    axes.set_yticks(range(len(names)), names)
    axes.set_xticks(
        range(len(grid.weeks)),
        [w.strftime("%d %b") for w in grid.weeks],
        rotation=45 if len(grid.weeks) > 6 else 0,
        ha="right" if len(grid.weeks) > 6 else "center",
    )
    axes.set_xlabel("week starting")
    axes.set_title(grid.title)
    for spine in axes.spines.values():
        spine.set_visible(False)
    axes.tick_params(length=0)
    return _png(figure)


def charts(report: Report) -> dict[str, bytes]:
    """PNG images, one a table (named like its CSV file) and the red flags by week."""
    return {
        "cases_by_week": _bars(report.weekly, horizontal=False, color=PALETTE["primary"]),
        "cases_by_language": _bars(report.language, horizontal=True, color=PALETTE["primary"]),
        "cases_by_channel": _bars(report.channel, horizontal=True, color=PALETTE["primary"]),
        "cases_by_country": _bars(report.country, horizontal=True, color=PALETTE["primary"]),
        "red_flags": _bars(report.indicators, horizontal=True, color=PALETTE["accent"]),
        "red_flags_by_week": _heatmap(report.indicators_weekly),
        "time_to_first_response": _bars(
            report.first_response, horizontal=True, color=PALETTE["accent"]
        ),
        "outcomes": _bars(report.outcomes, horizontal=True, color=PALETTE["primary"]),
        "referrals": _bars(report.referrals, horizontal=True, color=PALETTE["accent"]),
    }


# ---------------------------------------------------------------- output


def csv_files(report: Report) -> dict[str, str]:
    files: dict[str, str] = {}
    tables: list[Table | Grid] = [*report.tables(), report.indicators_weekly]
    for table in tables:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(table.csv_rows())
        files[f"{table.name}.csv"] = buffer.getvalue()
    summary = io.StringIO()
    csv.writer(summary, lineterminator="\n").writerows(
        [
            ["figure", "value"],
            ["period start", report.start.isoformat()],
            ["period end", report.end.isoformat()],
            ["cases", shown(report.total_cases)],
            ["median minutes to first response", _maybe(report.median_first_response_minutes)],
            ["referral completion rate", _maybe(report.referral_completion, percent=True)],
        ]
    )
    files["summary.csv"] = summary.getvalue()
    return files


def _maybe(value: float | None, *, percent: bool = False) -> str:
    if value is None:
        return "not shown (it would reveal a count under 5)"
    return f"{value:.0%}" if percent else f"{value:.0f}"


def render_html(report: Report, images: Mapping[str, bytes], *, standalone: bool = True) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("bot", "templates"), autoescape=select_autoescape(["html"])
    )
    template = environment.get_template(
        "report/standalone.html" if standalone else "report/body.html"
    )
    return template.render(
        report=report,
        images={name: base64.b64encode(data).decode("ascii") for name, data in images.items()},
        shown=shown,
        maybe=_maybe,
        threshold=THRESHOLD,
    )


def write(report: Report, folder: Path) -> list[Path]:
    """The HTML report with its charts as PNG files beside it, and the CSV files."""
    folder.mkdir(parents=True, exist_ok=True)
    images = charts(report)
    written = []
    for name, data in images.items():
        path = folder / f"{name}.png"
        path.write_bytes(data)
        written.append(path)
    for name, text in csv_files(report).items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    html = folder / "report.html"
    html.write_text(render_html(report, images), encoding="utf-8")
    written.append(html)
    return written

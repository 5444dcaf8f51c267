"""Compare two run folders metric by metric; exit 3 when a regression passes the bound.

Each folder's summary.json is used when present, otherwise it is computed from the recorded timeline.
A row regresses when the new run is worse than the base by more than --max-regression (relative)
and by more than an absolute floor (--min-delta-ms for latencies, 0.1 point for ratios).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from loadtest.report.compare import Delta, compare_summaries, regressions

__all__ = ["EPILOG", "add_arguments", "format_table", "load_summary", "parse_percent", "run"]

EPILOG = """examples:
  loadtest compare reports/base reports/new
  loadtest compare reports/base reports/new --max-regression 5% --min-delta-ms 2

exit status: 0 no regression beyond the bound, 3 regression, 1 a folder holds no run data, 2 bad usage"""

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REGRESSION = 0, 1, 2, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE", help="run folder of the baseline run")
    parser.add_argument("new", metavar="NEW", help="run folder of the run to judge")
    parser.add_argument(
        "--max-regression",
        default="10%",
        metavar="PCT",
        help="largest tolerated worsening of any figure, relative to BASE (default: 10%%)",
    )
    parser.add_argument(
        "--min-delta-ms",
        default="1",
        metavar="MS",
        help="latency changes smaller than this are never regressions (default: 1)",
    )


def parse_percent(text: str) -> float:
    """``"10%"`` or ``"10"`` → 0.10; raises ``ValueError`` for anything else or a negative value."""
    raw = text.strip().removesuffix("%").strip()
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ValueError(text)
    return value / 100.0


def load_summary(folder: Path) -> dict[str, Any]:
    """The folder's summary.json, or one computed from its recorded data when it has none."""
    file = folder / "summary.json"
    if file.is_file():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                return data
        except ValueError:
            pass
    from loadtest.report.assemble import analyze, summary_dict
    from loadtest.report.runfolder import load_run

    return summary_dict(analyze(load_run(folder)))


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "" and abs(value) < 1:
        return f"{value:.4f}"
    return f"{value:,.2f}"


def format_table(rows: list[Delta]) -> str:
    header = ("figure", "base", "new", "delta", "change", "better", "")
    body = []
    for r in rows:
        ratio = r.delta_ratio
        if r.base is None and r.new is not None:
            change = "appeared"
        else:
            change = "–" if ratio is None else ("from 0" if math.isinf(ratio) else f"{ratio:+.1%}")
        delta = r.delta
        body.append(
            (
                r.name + (f" ({r.unit})" if r.unit else ""),
                _fmt(r.base, r.unit),
                _fmt(r.new, r.unit),
                "–" if delta is None else f"{delta:+,.3g}",
                change,
                "lower" if r.lower_is_better else "higher",
                "REGRESSION" if r.regression else "",
            )
        )
    widths = [max(len(str(x[i])) for x in (header, *body)) for i in range(len(header))]
    lines = [
        "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (header, *body)
    ]
    return "\n".join(lines)


def _usage(option: str, value: str, example: str) -> int:
    print(f"loadtest compare: {option} {value!r} is not valid; e.g. {example}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    try:
        bound = parse_percent(args.max_regression)
    except ValueError:
        return _usage("--max-regression", args.max_regression, "--max-regression 10% (a non-negative percentage)")
    try:
        min_delta_ms = float(args.min_delta_ms)
        if not math.isfinite(min_delta_ms) or min_delta_ms < 0:
            raise ValueError(args.min_delta_ms)
    except ValueError:
        return _usage("--min-delta-ms", args.min_delta_ms, "--min-delta-ms 1 (milliseconds, ≥ 0)")
    folders = {}
    for name, raw in (("BASE", args.base), ("NEW", args.new)):
        path = Path(raw)
        if not path.is_dir():
            return _usage(name, raw, "loadtest compare reports/<base-run> reports/<new-run> (two run folders)")
        folders[name] = path
    from loadtest.report.runfolder import RunFolderError

    try:
        base, new = load_summary(folders["BASE"]), load_summary(folders["NEW"])
    except RunFolderError as exc:
        print(f"loadtest compare: {exc}", file=sys.stderr)
        return EXIT_ERROR
    rows = compare_summaries(base, new, bound, min_delta_ms)
    print(f"base: {folders['BASE']}  ({_label(base)}, verdict {base.get('verdict', '–')})")
    print(f"new:  {folders['NEW']}  ({_label(new)}, verdict {new.get('verdict', '–')})")
    print(format_table(rows))
    bad = regressions(rows)
    if bad:
        print(f"\n{len(bad)} regression(s) beyond {bound * 100:g}%: " + ", ".join(r.name for r in bad))
        return EXIT_REGRESSION
    print(f"\nno regression beyond {bound * 100:g}%")
    return EXIT_OK


def _label(summary: dict[str, Any]) -> str:
    run = summary.get("run")
    return str(run.get("label", "?")) if isinstance(run, dict) else "?"

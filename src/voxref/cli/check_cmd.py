"""``voxref check FILES... [--json]``: a quality report per reference recording (no denoising)."""

from __future__ import annotations

import argparse
import json

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="report speech duration, SNR, clipping, bandwidth... of reference recordings",
        description=(
            "Measure each recording (speech found by VAD, estimated SNR, clipping, level, bandwidth) "
            "and say whether it is a good reference: ok, weak (usable, down-weighted) or reject."
        ),
    )
    p.add_argument("files", nargs="+", help="recordings to check (wav/flac/ogg/mp3)")
    p.add_argument(
        "--json", action="store_true", help="print a JSON list of reports instead of a table"
    )
    p.add_argument(
        "--vad", default="silero", help="voice activity detector: silero (default) or energy"
    )
    p.add_argument(
        "--dnsmos", action="store_true", help="also compute DNSMOS scores (slow: 2-4 s per file)"
    )
    p.add_argument(
        "--strict", action="store_true", help="exit with status 1 if any file is rejected"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..cleaning.pipeline import check
    from ..cleaning.quality import QualityReport, format_reports
    from ..errors import AudioError

    reports = []
    for path in args.files:
        try:
            reports.append(check(path, vad=args.vad, report_dnsmos=args.dnsmos))
        except AudioError as exc:  # unreadable / missing / empty / NaN: a rejected row, not a crash
            reports.append(QualityReport.rejected(path, exc.reason))
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], indent=1))
    else:
        print(format_reports(reports))
    if args.strict and any(r.verdict == "reject" for r in reports):
        return 1
    return 0

"""The summary at the top of BENCHMARKS.md is generated from the results and cannot drift."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from benchmarks.quality.group_table import GroupRun, headline_markdown, verdict
from benchmarks.report import DECISION_FRAGMENTS, write_report
from benchmarks.summary import SUMMARY_TITLE, summary_markdown, summary_scopes

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"


def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the summary cannot be regenerated")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """BENCHMARKS.md regenerated from a copy of the results (the plots land in the copy)."""
    tmp = tmp_path_factory.mktemp("report")
    results = tmp / "benchmarks" / "results"
    shutil.copytree(RESULTS, results, ignore=shutil.ignore_patterns("*.png"))
    return write_report(results, tmp / "BENCHMARKS.md").read_text()


def _section(md: str, title: str) -> str:
    start = md.index(title + "\n")
    end = md.find("\n## ", start + len(title))
    return md[start : end if end != -1 else len(md)]


def _summary_cells(md: str) -> dict[str, list[str]]:
    rows = [line for line in _section(md, SUMMARY_TITLE).splitlines() if line.startswith("| ")]
    return {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]] for r in rows[1:]}


def _expected(run: GroupRun, scope: str, k: int) -> str:
    ours, base, row = run.cell(scope, k)
    if ours is None:
        return "–"
    lo, hi = row["ci"]
    return f"{ours / base:.2f} [{lo:.2f}-{hi:.2f}]"


def test_summary_is_the_first_section_and_the_headline_the_second(report: str) -> None:
    headings = [line for line in report.splitlines() if line.startswith("## ")]
    assert headings[0] == SUMMARY_TITLE
    assert headings[1].startswith("## Headline per voice group")
    assert headings[2] == "## Quality: speaker verification under degradations"
    assert headings[-1] == "## Appendix: Decision records"
    quality = _section(report, headings[2]).splitlines()
    assert (
        quality[2].startswith("> An earlier corpus") and "(#headline-per-voice-group" in quality[2]
    )


def test_summary_ratios_are_group_tables(report: str) -> None:
    """Every ratio and interval of the summary table is what group_table computes from the JSON,
    and the per-condition rows repeat the headline table's cells."""
    runs = {g: _load(f"quality_group_{g}.json") for g in ("B", "A")}
    b, a = GroupRun(runs["B"]), GroupRun(runs["A"])
    cells = _summary_cells(report)
    scopes = summary_scopes(b)
    assert len(cells) == len(scopes)
    assert any(s.startswith("family:") for s in scopes) and scopes[-1] == "degraded"
    headline = headline_markdown(runs).splitlines()
    for (label, row), scope in zip(cells.items(), scopes):
        assert row[0] == _expected(b, scope, 1), label
        assert row[1] == _expected(b, scope, 3), label
        assert row[3] == _expected(a, scope, 3), label
        verdicts = {verdict(b.cell(scope, k)[2]["ci"]) for k in (1, 3) if b.cell(scope, k)[0]}
        assert all(v in row[2] for v in verdicts), label
        if not scope.startswith("family:"):  # the same cell in the headline table
            name = "**mean of degraded**" if scope == "degraded" else scope
            line = next(x for x in headline if x.startswith(f"| {name} | 3 |"))
            assert line.split("|")[5].strip() == row[1], label
    # the worked example: the degraded mean at k=3 is the mean EER ratio over its conditions
    names = [n for n in b.conditions if n != "clean"]
    ours = sum(b.eer[(n, 3, "voxref")] for n in names) / len(names)
    base = sum(b.eer[(n, 3, "resemblyzer")] for n in names) / len(names)
    assert cells["**mean of degraded**"][1].startswith(f"{ours / base:.2f} [")


def test_summary_cost_line_is_the_interleaved_speed_run(report: str) -> None:
    inter = _load("speed.json")["interleaved"]
    one = next(r for r in inter["runs"] if r["threads"] == 1)
    line = next(x for x in _section(report, SUMMARY_TITLE).splitlines() if "**Cost**" in x)
    for name, r in one["inputs"].items():
        assert re.search(rf"{re.escape(name)} \([^)]*\) {r['ratio']:.2f} ", line), name


def test_committed_benchmarks_md_has_the_generated_summary(report: str) -> None:
    """BENCHMARKS.md is regenerated, never edited: its summary is the generator's output."""
    committed = (ROOT / "BENCHMARKS.md").read_text()
    assert _section(committed, SUMMARY_TITLE) == _section(report, SUMMARY_TITLE)
    assert summary_markdown(RESULTS) in committed


def test_decision_records_are_in_the_appendix_once(report: str) -> None:
    appendix = _section(report, "## Appendix: Decision records")
    assert (RESULTS / "level_decision.md").is_file()
    for name, title in DECISION_FRAGMENTS:
        if (RESULTS / name).is_file():
            assert f"### {title}" in appendix, name
            assert report.count(f"## {title}\n") == 1, name
    assert "(docs/decisions.md)" in appendix

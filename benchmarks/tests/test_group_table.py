"""The generated per-voice-group headline and telephone sweep match the results they come from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.quality.group_table import GroupRun, headline_markdown, verdict

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def _load(name: str) -> dict:
    path = RESULTS / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: the headline cannot be regenerated")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    return {g: _load(f"quality_group_{g}.json") for g in ("B", "A")}


def test_committed_fragment_is_the_generated_one(runs: dict[str, dict]) -> None:
    """quality_group.md is regenerated, never edited: it equals the generator's output."""
    committed = (RESULTS / "quality_group.md").read_text()
    assert committed == headline_markdown(runs) + "\n"


def test_every_family_and_both_set_sizes_are_in_the_table(runs: dict[str, dict]) -> None:
    md = headline_markdown(runs)
    for g, res in runs.items():
        assert res["config"]["voice_group"] == g
    needed = (
        ["white", "pink", "brown"],
        ["babble"],
        ["reverb"],
        ["telephone"],
        ["overlap"],
        ["mixed"],
        ["clean"],
    )
    for prefixes in needed:
        for prefix in prefixes:
            rows = [line for line in md.splitlines() if line.startswith(f"| {prefix}")]
            assert rows, prefix
            ks = {line.split("|")[2].strip() for line in rows}
            assert ks >= ({"3"} if prefix == "mixed" else {"1", "3"}), (prefix, ks)


def test_table_cells_are_the_json_numbers(runs: dict[str, dict]) -> None:
    """Each voxref / plain-mean cell of the table is the EER in the JSON (to 2 decimals)."""
    md = headline_markdown(runs)
    b = GroupRun(runs["B"])
    a = GroupRun(runs["A"])
    checked = 0
    for line in md.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 8 or not cells[1].isdigit() or cells[0].startswith("**"):
            continue
        cond, k = cells[0], int(cells[1])
        for text, run, method in (
            (cells[2], b, "voxref"),
            (cells[3], b, "resemblyzer"),
            (cells[5], a, "voxref"),
            (cells[6], a, "resemblyzer"),
        ):
            assert float(text) == pytest.approx(100 * run.eer[(cond, k, method)], abs=0.006)
        checked += 1
    assert checked >= 2 * 17 + 1  # 17 conditions at k = 1 and 3, the mixed bag at k = 3


def test_verdicts_follow_the_interval() -> None:
    assert verdict([0.2, 0.99]) == "lower"
    assert verdict([1.01, 1.3]) == "higher"
    assert verdict([0.9, 1.0]) == "no difference shown"


def test_telephone_sweep_fragment_is_the_generated_one() -> None:
    from benchmarks.quality.narrowband import sweep_markdown

    runs = [
        _load(f"{n}.json")
        for n in (
            "telephone_level_A",
            "telephone_level_A_paired",
            "telephone_level_B",
            "narrowband_level_other_B",
        )
    ]
    counts = _load("narrowband_counts.json")
    assert (RESULTS / "telephone_level.md").read_text() == sweep_markdown(runs, counts) + "\n"

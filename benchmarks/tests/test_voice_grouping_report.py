"""``benchmarks.quality.voice_grouping``: the grouping section is made from the result files."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.quality.voice_grouping import write


def _quality(path: Path, commit: str, mixed5: float) -> None:
    rows = [
        {"condition": c, "family": f, "k": k, "method": m, "eer": e}
        for c, f in (("mixed", "mixed"), ("overlap-sir0dB", "overlap"), ("clean", "clean"))
        for k in (3, 5)
        for m, e in (("voxref", mixed5 if (c, k) == ("mixed", 5) else 0.05), ("resemblyzer", 0.09))
    ]
    path.write_text(json.dumps({"run": {"git": {"commit": commit}}, "results": rows}))


def test_section_lists_runs_and_changed_cells(tmp_path):
    _quality(tmp_path / "quality_group_A.json", "aaaaaaa1", 0.0617)
    _quality(tmp_path / "quality_group_A_voice_grouping.json", "bbbbbbb2", 0.0679)
    _quality(tmp_path / "quality_group_A_voice_grouping_degraded.json", "ccccccc3", 0.0600)
    text = write(tmp_path).read_text()
    flat = " ".join(text.split())  # prose is wrapped
    assert "| A (tuning) | one threshold | bbbbbbb | 5.00 | 6.79 |" in text, text
    assert "| A (tuning) | degraded apart | ccccccc | 5.00 | 6.00 |" in text, text
    assert "A mixed k=5: 6.79 -> 6.00" in flat and "A mixed k=3" not in flat, text
    # no group B files: no B rows
    assert "| B (reporting)" not in text

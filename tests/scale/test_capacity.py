"""The capacity plan arithmetic of benchmarks/scale (used by docs/scaling.md)."""

from __future__ import annotations

import pytest
from benchmarks.scale.capacity import CORPORA, capacity_plan


def test_core_hours_and_wall_time_follow_the_measured_cost():
    plan = capacity_plan(585.0, 0.03, 5.6, nodes=(1, 2, 4), cores_per_node=16, efficiency=0.9)
    assert plan["core_hours"] == pytest.approx(585.0 * 0.03)
    walls = [row["wall_hours"] for row in plan["rows"]]
    assert walls[0] == pytest.approx(585.0 * 0.03 / (16 * 0.9), abs=0.01)
    assert walls[1] == pytest.approx(walls[0] / 2, abs=0.01)  # twice the nodes, half the time
    assert plan["clips"] == round(585.0 * 3600 / 5.6)


def test_start_up_is_paid_once_and_corpora_are_listed():
    a = capacity_plan(100.0, 0.05, 5.0, nodes=(1,), startup_seconds=0.0)
    b = capacity_plan(100.0, 0.05, 5.0, nodes=(1,), startup_seconds=3600.0)
    assert b["rows"][0]["wall_hours"] - a["rows"][0]["wall_hours"] == pytest.approx(1.0, abs=0.01)
    assert {c["audio_hours"] for c in CORPORA.values()} == {585.0, 100_000.0}

"""Data-parallel training: 2 CPU processes (gloo, loopback) on B crops each compute the steps of
one process on the 2B crops of the same global batch; a dead rank stops the run; it resumes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from voxref.errors import ConfigError
from voxref.train import Trainer
from voxref.train.distributed import DistContext, launch
from voxref.train.state import read_state

from .conftest import SPEECH

SRC = str(Path(__file__).resolve().parents[2] / "src")
WORKER = str(Path(__file__).with_name("dist_worker.py"))
SMALL_ECAPA = {
    "channels": [32, 32, 32, 32, 96],
    "attention_channels": 16,
    "se_channels": 16,
    "lin_neurons": 64,
}
#: per-process batches of 2 speakers x 2 utterances; the references use 4 speakers. Learning
#: rates: Adam divides each gradient element by its own magnitude, so an element whose gradient
#: is near zero moves by up to ~lr in a direction set by float rounding (which differs between
#: summing a gradient over one batch and over two halves); at the test config's 3e-3 that left
#: 1e-5..7e-5 differences on a few weights (ECAPA), at 3e-4 below 3e-6.
LR = 1e-3
#: noise or babble on every crop, plus gain and telephone draws (no reverberation: slow to make)
AUGMENT = {"noise_prob": 1.0, "reverb_prob": 0.0}
CASES = {
    "ge2e": {"loss": "ge2e", "augment": AUGMENT},
    "aam": {"loss": "aam", "head_lr": 1e-2},
    "timbre_vclub": {
        "loss": "ge2e+aam",
        "timbre_weight": 0.5,
        "mi_weight": 0.05,
        "timbre_utterances": 1,
        "augment": AUGMENT,
    },
    "ecapa_batchnorm": {
        "model": "ecapa",
        "model_config": SMALL_ECAPA,
        "loss": "aam",
        "head_lr": 1e-2,
        "lr": 3e-4,
    },
}
for _case in CASES.values():  # short crops: the tests are about equality, not learning
    _case.update(crop_seconds=0.5, timbre_chunk_seconds=0.5)
STEPS = 3
PER_RANK = 2


@contextlib.contextmanager
def _environment(**values: str):
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _child_env() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join(p for p in (SRC, path) if p), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    """Every case of :data:`CASES` trained by 2 processes (one launch for all of them)."""
    out = tmp_path_factory.mktemp("dist")
    cases = {
        name: {"lr": LR, **case, "steps": STEPS, "speakers_per_batch": PER_RANK}
        for name, case in CASES.items()
    }
    (out / "cases.json").write_text(json.dumps(cases))
    with _environment(**_child_env()):
        launch([WORKER, str(out / "cases.json"), str(out)], nproc=2, threads=1)
    return {name: torch.load(out / f"{name}.pt", weights_only=True) for name in CASES}


def _single(tiny_config, corpus, case: dict, steps: int = STEPS) -> tuple[Trainer, list[float]]:
    """One process on the doubled batch (2 x PER_RANK speakers, twice the timbre utterances)."""
    case = dict(case)
    if case.get("timbre_utterances"):
        case["timbre_utterances"] *= 2
    cfg = tiny_config(**{"lr": LR, **case, "speakers_per_batch": 2 * PER_RANK})
    trainer = Trainer(cfg, train_corpus=corpus, out=None, distributed=DistContext())
    return trainer, trainer.fit(steps=steps).losses


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].numel())


@pytest.mark.parametrize("name", list(CASES))
def test_two_processes_equal_one_process_on_the_doubled_batch(
    name, two_process_runs, corpus, tiny_config
):
    ref, losses = _single(tiny_config, corpus, CASES[name])
    run = two_process_runs[name]
    assert len(run["losses"]) == STEPS
    # losses within 1e-5, relative above 1 (AAM's scale 30 makes them ~10: 1e-5 absolute would be
    # 1e-6 relative, the float32 rounding of parameters that agree to a few 1e-6)
    assert all(abs(a - b) <= 1e-5 * max(1.0, abs(b)) for a, b in zip(run["losses"], losses)), (
        run["losses"],
        losses,
    )
    assert _max_diff(run["model"], ref.model.network.state_dict()) <= 1e-5
    assert _max_diff(run["objective"], ref.objective.state_dict()) <= 1e-5
    # the steps did change the model (an equality of untouched weights would prove nothing)
    fresh = Trainer(ref.config, train_corpus=corpus, out=None, distributed=DistContext())
    assert _max_diff(run["model"], fresh.model.network.state_dict()) > 1e-4


def _pid_of_rank(marker: str, rank: int) -> int | None:
    """The process of ``rank`` among those started with ``VOXREF_TEST_RUN=marker``."""
    want = {f"VOXREF_TEST_RUN={marker}".encode(), f"RANK={rank}".encode()}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = set((entry / "environ").read_bytes().split(b"\0"))
        except OSError:
            continue
        if want <= env:
            return int(entry.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds ranks through /proc")
def test_a_two_process_cli_run_ends_cleanly_and_reports_once(tmp_path, tiny_config):
    """``voxref train --nproc 2`` to its end: exit status 0, one summary (the main rank's), and
    no rank aborted in teardown (the ranks leave through ``os._exit`` once their group is left)."""
    cfg = tiny_config(steps=3, speakers_per_batch=PER_RANK, augment={"enabled": False})
    out = tmp_path / "run"
    recipe = cfg.replace(data=str(SPEECH), out=str(out)).save(tmp_path / "recipe.json")
    cmd = [sys.executable, "-m", "voxref", "train", str(recipe), "--nproc", "2", "--threads", "1"]
    proc = subprocess.run(
        cmd, env={**os.environ, **_child_env()}, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and summaries[0]["steps"] == 3, proc.stdout
    assert (out / "encoder.pt").is_file()
    assert "terminate called" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_killed_rank_stops_the_run_with_its_name_and_the_run_resumes(
    tmp_path, corpus, tiny_config
):
    cfg = tiny_config(
        lr=LR,
        speakers_per_batch=PER_RANK,
        steps=2000,
        steps_per_epoch=1,
        augment={"enabled": False},
    )
    out = tmp_path / "run"
    recipe = cfg.replace(data=str(SPEECH), out=str(out)).save(tmp_path / "recipe.json")
    marker = f"{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, **_child_env(), "VOXREF_TEST_RUN": marker}
    cmd = [sys.executable, "-m", "voxref", "train", str(recipe), "--nproc", "2", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        last = out / "checkpoints" / "last.pt"
        deadline = time.monotonic() + 120
        while not last.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        victim = _pid_of_rank(marker, 1)
        assert last.exists() and victim is not None, proc.stderr.read().decode()[-2000:]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = proc.communicate(timeout=60)
        stopped_after = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:  # our own child, by handle
            proc.kill()
            proc.wait()
    err = err.decode()
    assert proc.returncode == 1 and stopped_after < 60
    assert "rank 1" in err and "SIGKILL" in err, err[-2000:]
    assert f"--resume {last}" in err and "--speakers-per-batch 4" in err, err[-2000:]

    # the last complete checkpoint resumes in ONE process on the doubled batch, and continues
    # exactly as one process on that batch from the start would have
    done = read_state(last)["step"]
    assert 1 <= done < cfg.steps
    resumed = Trainer.resume(
        last,
        train_corpus=corpus,
        out=None,
        distributed=DistContext(),
        speakers_per_batch=2 * PER_RANK,
    )
    after = resumed.fit(steps=done + 2).losses
    same = {"augment": {"enabled": False}, "steps": cfg.steps}  # (steps: the lr schedule)
    _, straight = _single(tiny_config, corpus, same, steps=done + 2)
    assert len(after) == 2
    assert all(abs(a - b) <= 1e-5 * max(1.0, abs(b)) for a, b in zip(after, straight[done:])), (
        after,
        straight,
    )


def test_an_impossible_multi_process_config_fails_before_starting_processes(tmp_path, capsys):
    from voxref.cli.main import main

    code = main(
        ["train", "--data", str(SPEECH), "--out", str(tmp_path / "x"), "--nproc", "4"]
        + ["--speakers-per-batch", "2"]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "8 training speakers" in err and "has 6" in err
    with pytest.raises(ConfigError, match="nproc"):
        launch(["-c", "pass"], nproc=0)

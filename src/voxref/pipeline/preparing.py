"""How an :class:`~voxref.pipeline.Embedder` call spreads its references' work over its threads.

The thread budget and the task queue are :mod:`voxref.embedder.workers`'. A call's tasks:

* each reference's cleaning (:func:`voxref.cleaning.clean`, with the parts of its analysis
  that do not need the speech regions beside the VAD; a lone reference's with the call's
  torch threads, so its denoiser's two decoders run side by side);
* once a reference is cleaned, its encoder batches
  (:meth:`GE2EEncoder.plan_windows <voxref.embedder.ge2e.GE2EEncoder.plan_windows>`), queued
  behind the references still to be cleaned - or earlier, from the speech regions, when no
  denoising follows (:class:`EarlyWindows`);
* in :meth:`Embedder.combine <voxref.pipeline.Embedder.combine>`, the voice splits of the
  references (:func:`split_voices_side_by_side`).

Which computations run does not depend on the budget, only where and when: the vectors are
the same with one thread and with several.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from typing import Any

import numpy as np

from ..audio.level import level_audio
from ..audio.signal import Audio
from ..errors import InputFate, VoxrefError
from .inputs import name_of
from .results import PreparedReference

__all__ = ["EarlyWindows", "prepare_references", "split_voices_side_by_side"]

log = logging.getLogger(__name__)


class EarlyWindows:
    """The encoder's batches of a reference's undenoised speech, started while it is cleaned.

    :func:`~voxref.cleaning.clean` reports the speech regions before it measures the SNR and
    writes the quality report (and decides on denoising); with a thread free, the speech as it
    is then levelled and its window batches queued. When the cleaned speech turns out to be
    those very samples (no denoising), the batches are kept - the same computation the
    reference would queue afterwards, started earlier; otherwise they are skipped (a batch not
    yet run never runs).
    """

    def __init__(self, embedder: Any, queue: Any, plan_windows: Any) -> None:
        self.embedder = embedder
        self.queue = queue
        self.plan_windows = plan_windows
        self.cond = threading.Condition()
        self.state = "idle"  # idle -> queued -> running -> done, or dropped
        self.samples: np.ndarray | None = None
        self.plan: Any = None

    def start(self, audio: Audio, regions: Any) -> None:
        """``on_regions`` of :func:`~voxref.cleaning.pipeline.clean_in_schedule`: queue the guess."""
        if regions.is_empty or regions.speech_duration < self.embedder.min_seconds:
            return
        with self.cond:
            self.state = "queued"
        self.queue.add(self._run, audio, regions)

    def _run(self, audio: Audio, regions: Any) -> None:
        from ..cleaning.pipeline import concatenate_regions

        with self.cond:
            if self.state != "queued":
                return
            self.state = "running"
        plan, samples = None, None
        try:
            emb = self.embedder
            speech = audio.replace(
                concatenate_regions(audio.samples, audio.sample_rate, regions), None
            )
            samples = level_audio(speech, emb.level_dbfs).samples
            plan = self.plan_windows(
                [samples], emb.advanced.window, emb.advanced.hop, sources=[audio.source]
            )
        except VoxrefError:  # the reference's own path reports it
            plan = None
        finally:  # whatever happened, plan_for() stops waiting
            with self.cond:
                if self.state == "running":  # not dropped meanwhile
                    self.samples, self.plan, self.state = samples, plan, "done"
                self.cond.notify_all()
        with self.cond:
            if self.state != "done" or plan is None:
                return
        for batch in plan.batches:
            self.queue.add(self._batch, batch)

    def _batch(self, batch: Any) -> None:
        if self.state != "dropped":
            batch()

    def plan_for(self, samples: np.ndarray) -> Any:
        """The guessed plan when it encodes ``samples`` exactly, else ``None`` (guess dropped)."""
        with self.cond:
            if self.state == "idle":
                return None
            if self.state == "queued":
                self.state = "dropped"
                return None
            while self.state == "running":
                self.cond.wait()
            if self.plan is not None and np.array_equal(self.samples, samples):
                return self.plan
            self.state = "dropped"
            return None

    def drop(self) -> None:
        """Skip whatever of the guess has not run yet."""
        with self.cond:
            self.state = "dropped"


def prepare_references(
    embedder: Any, items: list[Any], sample_rate: int | None
) -> list[PreparedReference | InputFate]:
    """The body of :meth:`Embedder.prepare_all <voxref.pipeline.Embedder.prepare_all>` (its
    models loaded, ``items`` not empty)."""
    from ..embedder.workers import TaskQueue, intra_op_threads

    plan_windows = getattr(embedder.encoder, "plan_windows", None)
    out: list[PreparedReference | InputFate | None] = [None] * len(items)
    planned: dict[int, tuple[Audio, Audio, dict[str, Any], Any]] = {}
    queue = TaskQueue()

    def rejected(exc: VoxrefError, x: Any, i: int) -> InputFate:
        name = getattr(exc, "source", None) or name_of(x, i)
        reason = getattr(exc, "reason", str(exc))
        log.warning("reference %s rejected: %s", name, reason)
        return InputFate(name, "rejected", reason, type(exc).__name__)

    side = queue.threads > 1
    # a lone reference's cleaning keeps the call's torch threads: its denoiser then runs its
    # two decoders side by side (voxref.cleaning.dfn3_sequence; the same output either way)
    vad = embedder._clean_options.get("vad")
    solo = side and len(items) == 1 and isinstance(vad, str) and "jit" not in vad

    def prepare_one(i: int, x: Any) -> None:
        guess = EarlyWindows(embedder, queue, plan_windows)
        try:
            on_regions = guess.start if side and plan_windows else None
            beside = queue.spawn if side else None
            with intra_op_threads(queue.threads) if solo else nullcontext():
                audio, speech, fields = embedder._clean_speech(
                    x, i, sample_rate, on_regions, beside
                )
            if plan_windows is None:  # an encoder without batches of its own: in one go
                out[i] = embedder.encode_speech(audio, speech, **fields)
                return
            plan = guess.plan_for(speech.samples)
            if plan is None:
                plan = plan_windows(
                    [speech.samples],
                    embedder.advanced.window,
                    embedder.advanced.hop,
                    sources=[audio.source],
                )
                for batch in plan.batches:  # behind the references still to be cleaned
                    queue.add(batch)
        except VoxrefError as exc:
            guess.drop()
            out[i] = rejected(exc, x, i)
            return
        planned[i] = (audio, speech, fields, plan)

    for i, x in enumerate(items):
        queue.add(prepare_one, i, x)
    queue.run()
    for i in sorted(planned):
        audio, speech, fields, plan = planned[i]
        try:
            out[i] = embedder._prepared(audio, speech, plan.result()[0], fields)
        except VoxrefError as exc:
            out[i] = rejected(exc, items[i], i)
    return out  # type: ignore[return-value]


def split_voices_side_by_side(
    embedder: Any, usable: list[PreparedReference], activities: list[Any], guide: Any
) -> None:
    """The voice splits :meth:`Embedder.combine <voxref.pipeline.Embedder.combine>` is about
    to ask for, computed first as tasks of one queue; each is kept on its reference, so the
    loop that follows finds it done. Left to that loop (one after the other) when the encoder
    remembers fewer signals than there are references: the order in which the splits finish
    would then decide which signals it forgets, and so could change the output.
    """
    from ..embedder.workers import call_threads, run_all
    from ..separation.dominant import worth_splitting

    cap = getattr(embedder.encoder, "prefix_cache_signals", None)
    if call_threads() < 2 or (cap is not None and len(usable) > cap):
        return
    needs = []
    for p, act in zip(usable, activities):
        target = guide if guide is not None else act.target
        if target is not None and np.size(target) and worth_splitting(act):
            needs.append(p)
    if len(needs) > 1:
        run_all([lambda p=p: embedder.voice_split(p) for p in needs])

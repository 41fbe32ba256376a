"""``voxref.inspect``: one self-contained HTML page that shows what voxref saw in the references.

Choosing references is otherwise done by ear. The report shows, for one speaker's references:

* a table of quality reports (speech seconds, SNR, clipping, bandwidth, overlap, verdict and
  reasons) with each reference's weight in the pooled embedding;
* per reference: waveform and spectrogram with the speech regions, the diarization turns (who
  speaks where) and the target mask (where the embedding was taken from), and a player for the
  cleaned, target-only audio;
* the similarity between references and their pooling weights;
* a 2-D map (PCA, or t-SNE) of the window embeddings coloured by reference, the pooled embedding
  marked;
* with a speakers folder (one sub-folder per speaker): the speakers' pooled embeddings on one map
  and their similarity matrix;
* with a reference prompt (:func:`voxref.prompt`, or the sidecar ``voxref prompt`` wrote): its
  pieces on each reference's timeline, a table of them and a player of the prompt
  (:mod:`.prompt_view`).

Images and audio are embedded as ``data:`` URIs (the page needs no network and no other file);
the PNGs are also written beside the page, in ``<name>_figures/``. This module runs the stages
(:mod:`.collect`, :mod:`.figures`) and writes the files; the HTML itself is :mod:`.page`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes, atomic_write_text
from .collect import collect
from .page import DEFAULT_MAX_AUDIO_SECONDS, render_page
from .views import Inspection

__all__ = ["inspect", "write_report", "render_page", "InspectReport", "DEFAULT_MAX_AUDIO_SECONDS"]

log = logging.getLogger(__name__)


@dataclass
class InspectReport:
    """Where a report was written and what it holds.

    Attributes
    ----------
    path
        The HTML file.
    figures
        Figure name -> PNG file written beside the page.
    num_references, num_speakers
        How many references (table rows) and speakers it shows.
    inspection
        The data the report was drawn from.
    """

    path: Path
    figures: dict[str, Path] = field(default_factory=dict)
    num_references: int = 0
    num_speakers: int = 0
    inspection: Inspection | None = None

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size


def inspect(
    files: Sequence[Any] | None,
    output: str | os.PathLike,
    *,
    embedder: Any = None,
    speakers_dir: str | os.PathLike | None = None,
    diarize: bool | Any = True,
    projection: str = "pca",
    max_audio_seconds: float = DEFAULT_MAX_AUDIO_SECONDS,
    seed: int = 0,
    prompt: Any = None,
    prompt_preset: str | None = None,
) -> InspectReport:
    """Write an HTML report of what voxref makes of one speaker's references (and of speakers).

    Parameters
    ----------
    files
        One speaker's reference recordings (paths, arrays... anything :func:`voxref.embed` takes).
        May be empty when ``speakers_dir`` is given.
    output
        The HTML file to write. The PNGs go to ``<output stem>_figures/`` beside it.
    embedder
        The :class:`voxref.Embedder` to use (default: ``Embedder()``).
    speakers_dir
        A folder with one sub-folder of recordings per speaker: adds the speakers' map and
        similarity matrix.
    diarize
        Draw diarization turns (:func:`voxref.diarize`, when installed); ``False`` skips it, a
        callable ``audio -> Annotation`` replaces it.
    projection
        ``"pca"`` (default, deterministic) or ``"tsne"`` for the embedding maps.
    max_audio_seconds
        Length cap of each embedded audio player.
    seed
        Seed of the t-SNE projection.
    prompt
        Show a reference prompt (:func:`voxref.prompt`) on the references' timelines, in a table
        of its pieces and in a player: a :class:`~voxref.prompting.result.PromptResult`, the path
        of the JSON sidecar ``voxref prompt`` wrote (its audio beside it), or ``True`` to make one
        from ``files`` (slow: it diarizes every reference, once for the prompt and the turns drawn
        when ``diarize`` is ``True``; prefer passing the prompt already made).
    prompt_preset
        With ``prompt=True``: the preset of the prompt made (default ``"generic"``).

    Returns
    -------
    InspectReport

    Raises
    ------
    voxref.errors.ConfigError
        The prompt's pieces come from files that are not among ``files`` (or lie past their
        end), the sidecar or its audio is missing, or ``prompt_preset`` is given without
        ``prompt=True``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from voxref.sample_data import pyannote_sample
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> rep = inspect([pyannote_sample()[0]], out, diarize=False)  # doctest: +SKIP
    >>> rep.num_references, rep.path.exists()  # doctest: +SKIP
    (1, True)
    """
    diarizer = None
    if prompt is True and diarize is True:
        # one diarization per reference: the prompt's diarizer keeps its results, the turns
        # drawn are the same diarizer's (what voxref.diarize gives with its defaults)
        from ..prompting.diarizations import RememberingDiarizer

        diarizer = RememberingDiarizer()
        diarize = diarizer.annotation
    view = _prompt_of(prompt, prompt_preset, files, embedder, diarizer)
    data = collect(files, embedder, speakers_dir=speakers_dir, diarize=diarize)
    if view is not None:
        from .prompt_view import attach_prompt

        refs = data.references
        data.prompt = attach_prompt(view, [r.source for r in refs], [r.duration for r in refs])
    return write_report(
        data, output, projection=projection, max_audio_seconds=max_audio_seconds, seed=seed
    )


def _prompt_of(
    prompt: Any, preset: str | None, files: Any, embedder: Any, diarizer: Any = None
) -> Any:
    """The :class:`~.prompt_view.PromptView` that ``inspect(prompt=..., prompt_preset=...)`` asks
    for (``None``: none), its pieces checked against ``files`` before any model runs."""
    from ..errors import ConfigError
    from .prompt_view import attach_prompt, load_prompt_sidecar, prompt_view

    if preset is not None and prompt is not True:
        raise ConfigError(
            "prompt_preset only applies when the report makes the prompt (prompt=True); a prompt "
            "passed in or read from its sidecar already has its preset."
        )
    if prompt is None or prompt is False:
        return None
    files = list(files or [])
    if prompt is True:
        if not files:
            raise ConfigError("prompt=True needs reference files to make the prompt from.")
        from ..prompting import prompt as make_prompt

        log.info(
            "inspect: making a %s prompt from %d reference(s)", preset or "generic", len(files)
        )
        extra = {} if diarizer is None else {"diarizer": diarizer}
        res = make_prompt(files, preset=preset or "generic", embedder=embedder, **extra)
        return prompt_view(res, origin="made for this report")
    if isinstance(prompt, (str, os.PathLike)):
        view = load_prompt_sidecar(prompt)
    elif hasattr(prompt, "pieces") and hasattr(prompt, "audio"):
        view = prompt_view(prompt)
    else:
        raise ConfigError(
            f"prompt must be a PromptResult, the path of a prompt sidecar (.json) or True; got "
            f"{type(prompt).__name__}."
        )
    if all(isinstance(f, (str, os.PathLike)) for f in files):
        attach_prompt(view, [str(f) for f in files])  # fail before the models run
    return view


def write_report(
    inspection: Inspection,
    output: str | os.PathLike,
    *,
    projection: str = "pca",
    max_audio_seconds: float = DEFAULT_MAX_AUDIO_SECONDS,
    seed: int = 0,
) -> InspectReport:
    """Draw the figures of ``inspection``, save them as PNGs and write the self-contained page."""
    from .figures import (
        embedding_map_figure,
        reference_colors,
        reference_figure,
        similarity_figure,
        speaker_similarity_figure,
        speakers_map_figure,
        to_png,
        weights_figure,
    )

    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = out.parent / f"{out.stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    refs = inspection.references
    colors = reference_colors(len(refs))
    pngs: dict[str, bytes] = {}
    pv = inspection.prompt
    for r in refs:
        spans = (
            None if pv is None else [(p.start, p.end, p.order + 1) for p in pv.spans_of(r.index)]
        )
        pngs[f"reference-{r.index + 1:02d}"] = to_png(reference_figure(r, colors[r.index], spans))
    if refs:
        pngs["weights"] = to_png(weights_figure(refs))
        pngs["similarity"] = to_png(similarity_figure(refs))
        pngs["embedding-map"] = to_png(
            embedding_map_figure(refs, inspection.embedding, method=projection, seed=seed)
        )
    if inspection.speakers:
        pngs["speakers-map"] = to_png(
            speakers_map_figure(inspection.speakers, method=projection, seed=seed)
        )
        pngs["speakers-similarity"] = to_png(speaker_similarity_figure(inspection.speakers))
    paths = {}
    for name, data in pngs.items():
        paths[name] = fig_dir / f"{name}.png"
        atomic_write_bytes(paths[name], data)
    page = render_page(
        inspection, pngs, colors=colors, projection=projection, max_audio_seconds=max_audio_seconds
    )
    atomic_write_text(out, page)
    log.info("wrote %s (%.1f MB) and %d figures in %s", out, len(page) / 1e6, len(paths), fig_dir)
    return InspectReport(out, paths, len(refs), len(inspection.speakers), inspection)

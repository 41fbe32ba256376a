"""Speaker-embedding methods compared by the quality benchmark, behind one small interface.

A :class:`Method` works in two steps so thousands of enrollment sets stay affordable:
:meth:`Method.prepare` runs once per (condition, clip) in a worker process and returns something
picklable; :meth:`Method.combine` turns the prepared items of one enrollment set into one
unit-norm vector (cheap, in the main process). Test clips go through ``combine([item])``: each
method's own single-file path. Methods with the same :attr:`Method.prepare_group` share prepare
results (e.g. two poolings over the same per-clip work).

Registered methods (:data:`METHODS`; add one with :func:`register_method`):

* ``voxref``: ``voxref.Embedder()`` defaults, ``prepare()`` per clip, ``combine()`` per set;
* ``mean``: ``voxref.Embedder(pooling="mean", clean=False, guiding=False)``: the same encoder on
  each whole file and a plain mean of per-file embeddings (what other tools do);
* per-stage ablations (not run by default, :data:`ABLATIONS`): ``voxref-noclean``,
  ``voxref-noguide``, ``voxref-nodenoise``, ``vad-mean``... each switches one stage;
* ``voxref-trained``: ``voxref.Embedder(pooling="trained")`` (the shipped pooling head);
* ``resemblyzer``: Resemblyzer's own pipeline, ``preprocess_wav`` + ``embed_utterance`` per clip
  and their normalised mean: exactly ``VoiceEncoder.embed_speaker``;
* ``mfcc``: floor: mean and standard deviation of 20 MFCCs per clip, standardised with global
  statistics fitted on the clean clips, mean over the set.

Examples
--------
>>> sorted(DEFAULT_METHODS)
['mean', 'mfcc', 'resemblyzer', 'voxref', 'voxref-trained']
>>> make_method("mean").prepare_group == make_method("guide-mean").prepare_group
True
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Method",
    "VoxrefMethod",
    "ResemblyzerMethod",
    "MfccMethod",
    "METHODS",
    "DEFAULT_METHODS",
    "register_method",
    "make_method",
    "Failed",
    "ABLATIONS",
    "AttentionVariant",
]

log = logging.getLogger(__name__)


class Failed:
    """Marker of a clip a method could not prepare (kept so sets report it)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Failed({self.reason!r})"


def _unit(v: np.ndarray) -> np.ndarray | None:
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    n = float(np.linalg.norm(v))
    if not np.isfinite(n) or n == 0.0:
        return None
    return (v / n).astype(np.float32)


class Method(abc.ABC):
    """A speaker-embedding method (see the module docstring)."""

    name: str = "method"
    description: str = ""

    @property
    def prepare_group(self) -> str:
        """Methods with equal groups share :meth:`prepare` results."""
        return self.name

    def setup(self) -> None:
        """Load models (called once per process before :meth:`prepare` / :meth:`combine`)."""
        return None

    @abc.abstractmethod
    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        """Per-clip work; return a picklable item or :class:`Failed`."""

    def fit(self, clean_items: Sequence[Any]) -> None:
        """See the prepared clean clips once before any :meth:`combine` (default: nothing)."""
        return None

    @abc.abstractmethod
    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        """Unit-norm embedding of one enrollment set, or ``None`` when no item is usable."""

    def describe(self) -> dict[str, Any]:
        """JSON description."""
        return {"name": self.name, "description": self.description, "group": self.prepare_group}


def _with_file_hash(value: Any, key: str = "") -> Any:
    """``value``, or ``"path#sha1:<12 hex>"`` when it names an existing file; the shipped
    separator (``separate=True``) as ``"shipped#sha1:<12 hex>"``.

    Examples
    --------
    >>> _with_file_hash("mean"), _with_file_hash(3), _with_file_hash(True, "clean")
    ('mean', 3, True)
    """
    path, label = value, value
    from voxref.loading.modules import means_shipped

    if key == "separate" and means_shipped(value):
        from voxref.separation.separator import default_checkpoint

        path, label = default_checkpoint(), "shipped"
    if isinstance(path, (str, os.PathLike)) and os.path.isfile(path):
        digest = hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]
        return f"{label}#sha1:{digest}"
    return value


class VoxrefMethod(Method):
    """``voxref.Embedder(**embedder_options(embedder_kwargs))``: ``prepare()`` per clip,
    ``combine()`` per set.

    Parameters
    ----------
    name
        Method name in the results.
    embedder_kwargs
        Options of :class:`voxref.Embedder`, with the fields of its advanced options
        (:class:`voxref.tuning.EmbedderTuning`: ``window_temperature``, ``separate_margin``...)
        at the same level (see :func:`embedder_options`).
    combine_only
        Option names that affect only ``combine()``: methods whose other options are equal share
        prepared clips.
    """

    def __init__(
        self,
        name: str,
        embedder_kwargs: dict[str, Any] | None = None,
        combine_only: Sequence[str] = (
            "pooling",
            "guiding",
            "window_temperature",
            "separate_margin",
            "separate_threshold_db",
        ),
        description: str = "",
    ) -> None:
        self.name = name
        self.kwargs = dict(embedder_kwargs or {})
        self.combine_only = tuple(combine_only)
        self.description = description or f"voxref.Embedder({_kwargs_repr(self.kwargs)})"
        self._embedder: Any = None

    @property
    def prepare_group(self) -> str:
        """Options that change ``prepare()``; a model file option also names its content (its
        SHA-1), so a retrained checkpoint at the same path is a new group (and cache entry)."""
        shared = {
            k: _with_file_hash(v, k) for k, v in self.kwargs.items() if k not in self.combine_only
        }
        return "voxref:" + json.dumps(shared, sort_keys=True, default=str)

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from voxref.pipeline import Embedder

            self._embedder = Embedder(**embedder_options(self.kwargs))
        return self._embedder

    def setup(self) -> None:
        _ = self.embedder.encoder  # load the weights now

    def prepared_or_failed(self, samples: np.ndarray, sample_rate: int) -> Any:
        """The Embedder's ``prepare`` of one clip, or :class:`Failed` with the error's first line."""
        from voxref.errors import VoxrefError

        try:
            return self.embedder.prepare((samples, sample_rate))
        except VoxrefError as exc:
            return Failed(f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        prepared = self.prepared_or_failed(samples, sample_rate)
        if isinstance(prepared, Failed):
            return prepared
        if self.kwargs.get("guiding", True):
            # what combine() computes from a reference's speech when it holds two voices
            self.embedder.voice_split(prepared)
            if self.kwargs.get("separate"):
                self.embedder.separated_streams(prepared)
        # combine() needs the windows and the report, not the audio: keep items small to ship
        # between processes and to cache
        return dataclasses.replace(prepared, audio=None, speech=None)

    def combined(self, items: Sequence[Any]) -> Any:
        """The Embedder's ``combine`` of prepared ``items`` (failed ones passed on as rejected
        inputs): its EmbeddingResult, or ``None`` when no reference is usable."""
        from voxref.errors import InputFate, NoUsableReferenceError

        prepared = [
            InputFate(f"<ref {i}>", "rejected", it.reason) if isinstance(it, Failed) else it
            for i, it in enumerate(items)
        ]
        try:
            return self.embedder.combine(prepared)
        except NoUsableReferenceError:
            return None

    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        res = self.combined(items)
        return None if res is None else _unit(res.embedding)

    def pool_kept(self, refs: Sequence[Any]) -> np.ndarray:
        """The Embedder's last two steps on references whose embeddings a variant changed: keep
        the references of one voice, pool them with the quality-aware attention (unit norm)."""
        from voxref.embedder.pooling import pool_references
        from voxref.embedder.pooling.voices import keep_one_voice

        used, _ = keep_one_voice(refs)
        emb, _ = pool_references(
            np.stack([r.embedding for r in used]),
            [r.quality for r in used] if self.embedder.clean else None,
            method=self.embedder.pooling,
        )
        return _unit(emb)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["embedder_kwargs"] = {k: str(v) for k, v in self.kwargs.items()}
        if self._embedder is not None:
            with contextlib.suppress(Exception):
                d["encoder"] = self._embedder.encoder.describe()
        return d


class ResemblyzerMethod(Method):
    """Resemblyzer: ``preprocess_wav`` + ``VoiceEncoder.embed_utterance`` per clip, normalised mean.

    ``combine`` is the arithmetic of ``VoiceEncoder.embed_speaker`` (mean of utterance embeddings,
    L2-normalised), applied to cached per-clip embeddings.
    """

    name = "resemblyzer"
    description = (
        "resemblyzer 0.1.4 VoiceEncoder.embed_speaker (preprocess_wav + embed_utterance, mean)"
    )

    def __init__(self) -> None:
        self._encoder: Any = None

    def setup(self) -> None:
        if self._encoder is None:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # webrtcvad's pkg_resources deprecation
                from resemblyzer import VoiceEncoder

            with contextlib.redirect_stdout(io.StringIO()):
                self._encoder = VoiceEncoder("cpu", verbose=False)

    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        from resemblyzer import preprocess_wav

        self.setup()
        try:
            wav = preprocess_wav(np.asarray(samples, dtype=np.float32), source_sr=sample_rate)
            if wav.size < 1600:
                return Failed(f"preprocess_wav left {wav.size} samples")
            return self._encoder.embed_utterance(wav).astype(np.float32)
        except Exception as exc:  # noqa: BLE001 - a baseline failing on a clip is a result
            return Failed(f"{type(exc).__name__}: {exc}")

    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        vecs = [it for it in items if not isinstance(it, Failed)]
        if not vecs:
            return None
        return _unit(np.mean(vecs, axis=0))


class MfccMethod(Method):
    """Floor: per-clip mean+std of 20 MFCCs, globally standardised, averaged over the set.

    Parameters
    ----------
    n_mfcc
        Number of coefficients (the vector has ``2 * n_mfcc`` entries).
    """

    name = "mfcc"

    def __init__(self, n_mfcc: int = 20) -> None:
        self.n_mfcc = int(n_mfcc)
        self.description = (
            f"mean+std of {self.n_mfcc} MFCCs (librosa, 25 ms / 10 ms), global mean/variance "
            "normalisation fitted on clean clips, cosine"
        )
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def prepare(self, samples: np.ndarray, sample_rate: int, source: str) -> Any:
        import librosa

        x = np.asarray(samples, dtype=np.float32)
        mfcc = librosa.feature.mfcc(
            y=x,
            sr=sample_rate,
            n_mfcc=self.n_mfcc,
            n_fft=512,
            win_length=int(0.025 * sample_rate),
            hop_length=int(0.010 * sample_rate),
        )
        return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)]).astype(np.float32)

    def fit(self, clean_items: Sequence[Any]) -> None:
        x = np.stack([it for it in clean_items if not isinstance(it, Failed)]).astype(np.float64)
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.maximum(x.std(axis=0), 1e-8)

    def combine(self, items: Sequence[Any]) -> np.ndarray | None:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("MfccMethod.fit() must see the clean clips before combine()")
        vecs = [(it - self.mean_) / self.scale_ for it in items if not isinstance(it, Failed)]
        if not vecs:
            return None
        return _unit(np.mean(vecs, axis=0))


def _kwargs_repr(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


METHODS: dict[str, Callable[[], Method]] = {}
"""Method name -> factory. The benchmark runs the names it is given (default
:data:`DEFAULT_METHODS`); the first one is "ours" in ratio tables."""

DEFAULT_METHODS = ("voxref", "mean", "voxref-trained", "resemblyzer", "mfcc")


def register_method(name: str, factory: Callable[[], Method]) -> None:
    """Add (or replace) a method, e.g. ``register_method("voxref-noclean", lambda:
    VoxrefMethod("voxref-noclean", {"clean": False}))``."""
    METHODS[name] = factory


_EMBEDDER_KEYS = (
    "clean",
    "guiding",
    "denoise",
    "window_temperature",
    "pooling",
    "vad",
    "level_dbfs",
    "separate",
    "separate_margin",
    "separate_threshold_db",
    "window",
    "hop",
)


def _value(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def embedder_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """:class:`voxref.Embedder` keywords from a method's flat options: the fields of
    :class:`voxref.tuning.EmbedderTuning` go into ``advanced=``.

    Examples
    --------
    >>> embedder_options({"clean": False, "separate_margin": 0})
    {'clean': False, 'advanced': EmbedderTuning(window=None, hop=None, window_temperature=None, separate_margin=0.0, separate_threshold_db=None)}
    """
    from voxref.tuning import TUNING_FIELDS, EmbedderTuning

    options = {k: v for k, v in kwargs.items() if k not in TUNING_FIELDS}
    advanced = {k: v for k, v in kwargs.items() if k in TUNING_FIELDS}
    if advanced:
        options["advanced"] = EmbedderTuning(**advanced)
    return options


def parse_method_spec(name: str) -> Method:
    """A :class:`VoxrefMethod` from ``"voxref[key=value,...]"`` (ablations without registering).

    Keys of :class:`voxref.Embedder` (``clean``, ``guiding``, ``denoise``, ``pooling``, ``vad``,
    ``level_dbfs``, ``separate``, e.g. ``voxref[level_dbfs=-35]``) and of its advanced options
    (``window_temperature``, ``separate_margin``, ``separate_threshold_db``; see
    :func:`embedder_options`) go to the embedder; ``guide`` is read as ``guiding`` (the spelling
    of the specs of earlier results); every other key (``margin``, ``temperature``,
    ``min_effective``, ``use_quality``, ``ignore`` as ``a+b``...) to :class:`AttentionVariant`.

    Examples
    --------
    >>> m = parse_method_spec("voxref[guide=false,margin=0.12]")
    >>> m.kwargs["guiding"], m.kwargs["pooling"]
    (False, AttentionVariant(use_quality=True, margin=0.12))
    """
    body = name[len("voxref[") : -1]
    embedder: dict[str, Any] = {}
    attention: dict[str, Any] = {}
    for part in filter(None, body.split(",")):
        key, _, raw = part.partition("=")
        key = "guiding" if key == "guide" else key
        value = _value(raw)
        if key == "ignore":
            value = tuple(raw.split("+"))
        (embedder if key in _EMBEDDER_KEYS else attention)[key] = value
    if attention:
        embedder["pooling"] = AttentionVariant(**attention)
    return VoxrefMethod(name, embedder, description=f"ablation {name}")


def make_method(name: str) -> Method:
    """A new instance of the registered method ``name`` (or of a ``voxref[...]`` spec)."""
    if name.startswith("voxref[") and name.endswith("]"):
        return parse_method_spec(name)
    try:
        return METHODS[name]()
    except KeyError:
        raise KeyError(f"unknown method {name!r}; registered: {sorted(METHODS)}") from None


class AttentionVariant:
    """Pooling module for ablations: the parameter-free attention with other options.

    Parameters
    ----------
    use_quality
        Pass the references' quality reports (``False``: agreement only).
    **options
        Options of :func:`voxref.embedder.pooling.attention_pool`.
    """

    def __init__(
        self, use_quality: bool = True, ignore: Sequence[str] = (), **options: Any
    ) -> None:
        self.use_quality = bool(use_quality)
        self.ignore = tuple(ignore)
        self.options = options

    def pool(self, embeddings: np.ndarray, qualities: Any = None) -> tuple[np.ndarray, np.ndarray]:
        from voxref.embedder.pooling import RefQuality, attention_pool

        if not self.use_quality:
            qualities = None
        elif qualities is not None and self.ignore:
            qualities = [
                dataclasses.replace(RefQuality.from_any(q), **dict.fromkeys(self.ignore))
                for q in qualities
            ]
        return attention_pool(embeddings, qualities, **self.options)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        ign = f", ignore={self.ignore}" if self.ignore else ""
        return f"AttentionVariant(use_quality={self.use_quality}{ign}{', ' + opts if opts else ''})"


register_method(
    "voxref", lambda: VoxrefMethod("voxref", {}, description="voxref.Embedder() defaults")
)
register_method(
    "mean",
    lambda: VoxrefMethod(
        "mean",
        {"pooling": "mean", "clean": False, "guiding": False, "level_dbfs": None},
        description="voxref.Embedder(pooling='mean', clean=False, guiding=False, level_dbfs=None): "
        "the same encoder on each whole file as recorded, plain mean of per-file embeddings "
        "(what other tools do)",
    ),
)
register_method("resemblyzer", ResemblyzerMethod)
register_method("mfcc", MfccMethod)
register_method(
    "voxref-trained",
    lambda: VoxrefMethod(
        "voxref-trained",
        {"pooling": "trained"},
        description="voxref.Embedder(pooling='trained'): the shipped pooling head instead of the "
        "parameter-free attention (caveat: trained by scripts/train_pooling_head.py on renderings "
        "of the same synthetic voices, fold 0 train speakers, so some trial speakers here were "
        "seen in training; its held-apart evaluation is the script's)",
    ),
)

ABLATIONS: dict[str, tuple[dict[str, Any], str]] = {
    "voxref-noclean": ({"clean": False}, "default pooling and guiding without the cleaning stage"),
    "voxref-noguide": ({"guiding": False}, "defaults without guided target activity"),
    "voxref-nodenoise": ({"denoise": "off"}, "defaults with VAD but no denoiser"),
    "voxref-nolevel": (
        {"level_dbfs": None},
        "defaults without the speech level normalisation (references embedded as recorded)",
    ),
    "level-mean": (
        {"pooling": "mean", "clean": False, "guiding": False},
        "the plain mean baseline with the Embedder's speech level normalisation only",
    ),
    "voxref-dfn3": ({"denoise": "dfn3"}, "defaults with DeepFilterNet3 on every clip"),
    "voxref-gate": ({"denoise": "gate"}, "defaults with noisereduce spectral gating on every clip"),
    "voxref-noquality": (
        {"pooling": AttentionVariant(use_quality=False)},
        "defaults, reference attention without the quality prior",
    ),
    "voxref-sep": (
        {"separate": True},
        "defaults + the two-talker separator on references that hold two voices (shipped)",
    ),
    "guided-mean": ({"pooling": "mean"}, "cleaning and guiding, then plain means"),
    "att-prior-only": (
        {"pooling": AttentionVariant(temperature=float("inf"))},
        "defaults, reference weights from the quality prior only (no agreement)",
    ),
    "att-prior-only-ng": (
        {"pooling": AttentionVariant(temperature=float("inf")), "guiding": False},
        "no guiding, reference weights from the quality prior only",
    ),
    "win-mean": (
        {"window_temperature": float("inf")},
        "defaults with a plain masked mean over each reference's windows",
    ),
    "win-mean-ng": (
        {"window_temperature": float("inf"), "guiding": False},
        "no guiding, plain mean over windows, reference attention",
    ),
    "m08-ng": (
        {"pooling": AttentionVariant(margin=0.08), "guiding": False},
        "no guiding, margin 0.08",
    ),
    "m12-ng": (
        {"pooling": AttentionVariant(margin=0.12), "guiding": False},
        "no guiding, margin 0.12",
    ),
    "m12": ({"pooling": AttentionVariant(margin=0.12)}, "guiding, margin 0.12"),
    "m12-noov": (
        {"pooling": AttentionVariant(margin=0.12, ignore=("overlap_ratio",))},
        "guiding, margin 0.12, guide's overlap ratio not in the prior",
    ),
    "noov": (
        {"pooling": AttentionVariant(ignore=("overlap_ratio",))},
        "defaults, guide's overlap ratio not in the prior",
    ),
    "prior-noov": (
        {"pooling": AttentionVariant(temperature=float("inf"), ignore=("overlap_ratio",))},
        "guiding, prior-only weights without the overlap ratio",
    ),
    "att-soft": (
        {"pooling": AttentionVariant(temperature=0.15, margin=0.05)},
        "defaults with a softer agreement penalty",
    ),
    "att-floor": (
        {"pooling": AttentionVariant(min_effective=0.6)},
        "defaults with a higher effective-count floor",
    ),
    "att-floor-ng": (
        {"pooling": AttentionVariant(min_effective=0.6), "guiding": False},
        "no guiding, higher effective-count floor",
    ),
    "vad-mean": (
        {"denoise": "off", "guiding": False, "pooling": "mean"},
        "VAD only, then a plain mean (windows and references)",
    ),
    "dfn3-mean": (
        {"denoise": "dfn3", "guiding": False, "pooling": "mean"},
        "VAD + DeepFilterNet3 on every clip, then a plain mean",
    ),
    "auto-mean": (
        {"guiding": False, "pooling": "mean"},
        "VAD + the default denoise policy, then a plain mean",
    ),
    "guide-mean": (
        {"clean": False, "pooling": "mean", "level_dbfs": None},
        "no cleaning, guided target activity, plain mean over references, as recorded",
    ),
    "noclean-attention": (
        {"clean": False, "guiding": False},
        "no cleaning, no guiding, parameter-free reference attention",
    ),
}
"""Per-stage ablations (not run by default): name -> (Embedder options, what it isolates)."""


def _auto_denoiser(threshold_db: float) -> Any:
    from voxref.cleaning.denoise import AutoDenoiser

    return AutoDenoiser(threshold_db=threshold_db)


for _db in (20, 25, 30):
    ABLATIONS[f"voxref-auto{_db}"] = (
        {"denoise": _auto_denoiser(float(_db))},
        f"defaults with the 'auto' denoiser starting below {_db} dB of estimated SNR (default 15)",
    )

for _name, (_kwargs, _what) in ABLATIONS.items():
    register_method(
        _name,
        lambda n=_name, kw=_kwargs, w=_what: VoxrefMethod(
            n, dict(kw), description=f"voxref.Embedder({_kwargs_repr(kw)}): {w}"
        ),
    )


# registers the pitch-comb separation variants and the combine-only pooling variants
from . import harmonic, variants  # noqa: E402,F401

"""Samples as numbers: any array or tensor a user has -> float32 in [-1, 1], saying what was assumed.

Integer PCM is divided by its full scale. The width is the dtype's, unless the values fit a
narrower standard PCM width (an ``int64`` array built from 16-bit samples, ``np.array`` of Python
ints): then that width, with a note, since 16-bit values divided by 2^63 would be digital silence.
Float samples are expected in [-1, 1]. Float samples beyond :data:`LOUD_PEAK` are not audio at
that scale; voxref rescales them with a warning and a note (kept in ``Audio.history`` and the
quality report) rather than refusing them:

- whole numbers within the range of 16-, 24- or 32-bit PCM are integer PCM stored as floats
  (``wav.astype(np.float32)`` on an int16 array): divided by that PCM full scale, which gives the
  same samples as reading the integers;
- other values (integer PCM scaled after conversion, or a wrong gain) have no known full scale:
  divided by their peak.

Why rescale, not refuse: the speaker encoder is given speech scaled to a fixed level anyway, so the
only thing a wrong scale changes is the absolute level voxref reports, and the note says what was
assumed. Refusing would make an unattended batch lose a usable reference over a convention voxref
can undo exactly. Left as they were, such samples lie beyond the range the level normaliser
corrects (+-40 dB) and the encoder embeds them as another voice (cosine ~0.55 to the same clip at
the right scale). Finite samples beyond :data:`ABSURD_PEAK`, which no PCM convention reaches, are
refused (:class:`~voxref.errors.OutOfRangeAudioError`).

Examples
--------
>>> import numpy as np
>>> x, notes = to_float(np.array([0, 16384, -32768], dtype=np.int64))
>>> x.tolist(), notes
([0.0, 0.5, -1.0], ('int64 samples whose values fit in 16 bits: read as 16-bit PCM (divided by 32768)',))
>>> to_float(np.array([0.0, 16384.0, -32768.0], dtype=np.float32))[0].tolist()
[0.0, 0.5, -1.0]
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from ..errors import AudioShapeError, NonFiniteAudioError, OutOfRangeAudioError

__all__ = [
    "array_from",
    "to_float",
    "float_scale",
    "out_of_range",
    "integer_width",
    "LOUD_PEAK",
    "ABSURD_PEAK",
    "FLOAT_PCM_WIDTHS",
]

log = logging.getLogger(__name__)

#: Float samples peaking above this are not scaled to [-1, 1] and are rescaled (module text).
LOUD_PEAK = 2.0
#: Finite float samples peaking above this are refused: integer PCM stored as floats peaks at
#: 2.1e9 (32-bit); beyond ~1e18 the encoders' power spectra overflow float32.
ABSURD_PEAK = 1e12
#: PCM widths (bits) that whole-number float samples are read as, narrowest first. Values that
#: fit 8 bits are read as 8-bit: read as 16-bit they would be 48 dB down, beyond what the level
#: normaliser restores, while 16-bit samples that quiet (peak below -42 dBFS) hardly exist.
FLOAT_PCM_WIDTHS = (8, 16, 24, 32)
_SIGNED_WIDTHS = (8, 16, 24, 32, 64)
_UNSIGNED_WIDTHS = (8, 16, 24, 32, 64)

_NOT_NUMBERS = (
    "pass float samples in [-1, 1] or integer PCM, shaped (samples,) or (channels, samples)"
)


def _tensor_to_numpy(x: Any, source: str) -> np.ndarray:
    """A torch tensor's samples as a numpy array (any layout; typed errors for the ones without)."""
    import torch

    if x.is_meta:
        raise AudioShapeError(
            "is a meta tensor: it has a shape but no samples (device='meta'). Pass a tensor that "
            "holds the recording's samples.",
            source,
        )
    if x.is_nested:
        raise AudioShapeError(
            "is a nested tensor (several recordings of different lengths). Pass them one by "
            "one, or as a list of references: voxref.embed(list(t.unbind())).",
            source,
        )
    if x.is_complex():
        raise AudioShapeError(_complex_message(str(x.dtype)), source)
    try:
        x = x.detach()
        if x.layout != torch.strided:  # sparse COO / CSR / CSC / BSR / BSC: the same samples
            x = x.to_dense()
        if x.is_quantized:
            x = x.dequantize()
        x = x.cpu().resolve_conj().resolve_neg()
        if x.dtype.is_floating_point and x.dtype != torch.float64:
            x = x.float()  # float16 / bfloat16 / float8 -> float32 (numpy has no bfloat16)
        return x.numpy()
    except (TypeError, RuntimeError, NotImplementedError) as exc:
        raise AudioShapeError(
            f"a torch tensor of dtype {x.dtype} and layout {x.layout} cannot be read as samples "
            f"({type(exc).__name__}: {exc}); convert it first, e.g. t.to_dense().float().cpu().",
            source,
        ) from exc


def array_from(x: Any, source: str) -> np.ndarray:
    """A numpy array (any dtype) from a numpy array, a torch tensor or a (nested) list.

    Raises
    ------
    AudioShapeError
        For anything else, and for tensors without readable samples (meta, nested).
    """
    if type(x).__module__.startswith("torch"):
        return _tensor_to_numpy(x, source)
    if isinstance(x, np.ma.MaskedArray):
        if np.ma.count_masked(x):
            raise AudioShapeError(
                f"is a masked array with {np.ma.count_masked(x)} masked samples; their values are "
                "undefined. Fill them first, e.g. x.filled(0).",
                source,
            )
        return np.asarray(x.data)
    if isinstance(x, np.ndarray):
        return np.asarray(x)  # np.matrix -> ndarray
    if isinstance(x, (list, tuple)):
        try:
            return np.asarray(x, dtype=np.float32)
        except Exception as exc:
            raise AudioShapeError(
                f"cannot interpret a {type(x).__name__} as samples ({exc}); {_NOT_NUMBERS}.",
                source,
            ) from exc
    raise AudioShapeError(
        f"unsupported input type {type(x).__name__}; pass a path, a numpy array, a torch tensor, "
        "or an (array, sample_rate) pair.",
        source,
    )


def _complex_message(dtype: str) -> str:
    return (
        f"samples are complex ({dtype}); audio samples are real numbers. Pass x.real if the "
        "imaginary part is zero, or the time signal before any FFT / analytic transform."
    )


def _check_dtype(x: np.ndarray, source: str) -> None:
    kind = x.dtype.kind
    if kind in "iuf":
        return
    if kind == "c":
        raise AudioShapeError(_complex_message(str(x.dtype)), source)
    if kind == "b":
        raise AudioShapeError(
            f"samples have dtype bool (True/False, e.g. a mask), not sound; {_NOT_NUMBERS}.",
            source,
        )
    if kind == "O":
        raise AudioShapeError(
            "samples have dtype object (Python objects, e.g. from a ragged list or a DataFrame "
            "column); convert them to numbers first: np.asarray(x, dtype=np.float32).",
            source,
        )
    raise AudioShapeError(f"samples have dtype {x.dtype}, not numbers; {_NOT_NUMBERS}.", source)


def integer_width(lo: int, hi: int, dtype: np.dtype) -> int:
    """PCM width (bits) of integer samples in ``[lo, hi]`` held in ``dtype``.

    The dtype's own width for 8- and 16-bit dtypes; for wider ones the narrowest standard width
    that holds the values (8/16/24/32/64 bits; see :data:`FLOAT_PCM_WIDTHS` for why 8).

    Examples
    --------
    >>> integer_width(-32768, 32767, np.dtype(np.int64)), integer_width(-3, 5, np.dtype(np.int16))
    (16, 16)
    >>> integer_width(-2**23, 2**20, np.dtype(np.int32)), integer_width(0, 255, np.dtype(np.uint32))
    (24, 8)
    >>> integer_width(0, 255, np.dtype(np.uint16))  # a 16-bit dtype is taken at its word
    16
    """
    bits = dtype.itemsize * 8
    if bits <= 16 or lo == hi == 0:  # all zeros: no width to infer (and nothing to note)
        return bits
    if dtype.kind == "u":
        fits = [b for b in _UNSIGNED_WIDTHS if b <= bits and hi < 2**b]
    else:
        fits = [b for b in _SIGNED_WIDTHS if b <= bits and -(2 ** (b - 1)) <= lo < 2 ** (b - 1)]
        fits = [b for b in fits if hi < 2 ** (b - 1)]
    return fits[0] if fits else bits


def float_scale(peak: float, whole_numbers: bool) -> tuple[float, str | None]:
    """Divisor for float samples peaking at ``peak`` and what it assumes (``None``: none needed).

    Examples
    --------
    >>> float_scale(0.9, False)
    (1.0, None)
    >>> float_scale(23197.0, True)[0], float_scale(300.5, False)[0]
    (32768.0, 300.5)
    """
    if not peak > LOUD_PEAK:
        return 1.0, None
    if whole_numbers:
        for b in FLOAT_PCM_WIDTHS:
            if peak <= 2.0 ** (b - 1):
                full = 2.0 ** (b - 1)
                return full, (
                    f"float samples reach {peak:.6g} and are whole numbers: integer PCM stored as "
                    f"floats, read as {b}-bit PCM (divided by {full:.0f})"
                )
    return peak, (
        f"float samples reach {peak:.3g}, far outside [-1, 1], and are not integer PCM of a "
        f"known width: scaled by 1/{peak:.6g} to a peak of 1"
    )


def out_of_range(peak: float, source: str) -> OutOfRangeAudioError:
    """The error for finite samples reaching ``peak`` > :data:`ABSURD_PEAK`."""
    return OutOfRangeAudioError(
        f"samples are finite but reach {peak:.3g}, far beyond any audio scale (floats in "
        "[-1, 1]; integer PCM stored as floats reaches 2.1e9 at most). If this is audio, "
        "scale it to [-1, 1]: x / np.abs(x).max().",
        source,
    )


def _peak(x: np.ndarray) -> float:
    """Largest magnitude; NaN when any sample is NaN or infinite."""
    if not x.size:
        return 0.0
    with np.errstate(invalid="ignore"):
        hi, lo = float(np.max(x)), float(np.min(x))
    return max(hi, -lo) if math.isfinite(hi) and math.isfinite(lo) else math.nan


def to_float(x: np.ndarray, source: str = "<array>") -> tuple[np.ndarray, tuple[str, ...]]:
    """``x`` (any shape, numeric dtype) as float32 samples in [-1, 1], and notes on what was assumed.

    Each note is also logged as a warning. See the module text for the rules.

    Raises
    ------
    AudioShapeError
        Not numbers (bool, complex, object, strings, dates...).
    NonFiniteAudioError
        NaN or infinite samples.
    OutOfRangeAudioError
        Finite samples beyond :data:`ABSURD_PEAK`.
    """
    x = np.asarray(x)
    _check_dtype(x, source)
    notes: list[str] = []
    if x.dtype.kind in "iu":
        if x.size == 0:
            return x.astype(np.float32), ()
        lo, hi = int(x.min()), int(x.max())
        bits = integer_width(lo, hi, x.dtype)
        if bits < x.dtype.itemsize * 8:
            notes.append(
                f"{x.dtype} samples whose values fit in {bits} bits: read as {bits}-bit PCM "
                f"(divided by {2 ** (bits - 1)})"
            )
        full = float(2 ** (bits - 1))
        y = x.astype(np.float64)
        if x.dtype.kind == "u":  # offset binary, e.g. 8-bit wav
            y -= full
        out = (y / full).astype(np.float32)
    else:
        peak = _peak(x)
        if not math.isfinite(peak):
            bad = int(x.size - np.count_nonzero(np.isfinite(x)))
            raise NonFiniteAudioError(
                f"{bad} samples are NaN or infinite; fix the upstream processing "
                "(or np.nan_to_num it).",
                source,
            )
        if peak > ABSURD_PEAK:
            raise out_of_range(peak, source)
        scale, note = 1.0, None
        if peak > LOUD_PEAK:
            whole = bool(np.all(np.floor(x) == x))
            scale, note = float_scale(peak, whole)
        if note:
            notes.append(note)
            out = (np.asarray(x, dtype=np.float64) / scale).astype(np.float32)
        else:
            out = x.astype(np.float32, copy=False)
    for note in notes:
        log.warning("%s: %s; pass samples scaled to [-1, 1] to silence this warning", source, note)
    return out, tuple(notes)

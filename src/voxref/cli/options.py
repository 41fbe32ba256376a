"""Options shared by several commands: the Embedder's (``embed``, ``embed-dir``,
``embed-dataset``) and the offline diarizer's (``diarize``, ``extract``)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigError

__all__ = [
    "add_embedder_arguments",
    "add_level_argument",
    "add_diarizer_arguments",
    "diarizer_options",
    "embedder_options",
    "level_option",
]


def level_option(text: str) -> float | None:
    """``--level`` value: a dBFS number, or ``off`` (embed as recorded).

    Examples
    --------
    >>> level_option("-23"), level_option("off")
    (-23.0, None)
    """
    if text.strip().lower() in ("off", "none", "as-recorded"):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--level takes a dBFS number (e.g. -20) or 'off'; got {text!r}"
        ) from None


def add_level_argument(p: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--level DBFS|off``: the active speech level references (or, with ``help``, whatever
    that text names) are scaled to."""
    p.add_argument(
        "--level",
        type=level_option,
        default=argparse.SUPPRESS,  # absent: the library's default
        metavar="DBFS|off",
        help=help
        or "active speech level the references are scaled to before the encoder, measured in "
        "the 300-3400 Hz speech band (default: the library's, -22 dBFS); 'off' embeds them as "
        "recorded",
    )


def add_embedder_arguments(p: argparse.ArgumentParser) -> None:
    """``--encoder``, ``--pooling``, ``--no-clean``, ``--separate`` (``--separate-threshold``),
    ``--level``."""
    p.add_argument(
        "--encoder",
        default="ge2e",
        help="'ge2e' (bundled, default), or a checkpoint path / hub id "
        "(voxref train output, SpeechBrain or pyannote model)",
    )
    p.add_argument(
        "--pooling", default=None, help="pooling over references (default: the library's)"
    )
    p.add_argument(
        "--no-clean", action="store_true", help="skip the cleaning stage (VAD, denoising)"
    )
    p.add_argument(
        "--separate",
        nargs="?",
        const="default",
        default=None,
        metavar="MODEL",
        help="split references into two talkers and keep the target's stream; MODEL: voxref's "
        "separator checkpoint (default: the shipped one) or a SpeechBrain separation model "
        "directory / hub id, e.g. speechbrain/sepformer-libri2mix",
    )
    p.add_argument(
        "--separate-threshold",
        type=float,
        default=None,
        metavar="DB",
        help="with --separate: separate a reference only when its quieter stream is at least "
        "DB dB re the reference (default: the checkpoint's calibrated threshold; higher "
        "separates fewer references)",
    )
    add_level_argument(p)


def embedder_options(args: argparse.Namespace) -> dict[str, Any]:
    """:class:`voxref.Embedder` keyword options from the arguments above (defaults left out).

    Examples
    --------
    >>> embedder_options(argparse.Namespace(encoder="ge2e", pooling=None, no_clean=True))
    {'encoder': 'ge2e', 'clean': False}
    >>> embedder_options(argparse.Namespace(encoder="ge2e", pooling=None, no_clean=False, level=None))
    {'encoder': 'ge2e', 'level_dbfs': None}
    """
    options: dict[str, Any] = {"encoder": args.encoder}
    if args.pooling:
        options["pooling"] = args.pooling
    if args.no_clean:
        options["clean"] = False
    threshold = getattr(args, "separate_threshold", None)
    if getattr(args, "separate", None):
        options["separate"] = args.separate
        if threshold is not None:
            from ..tuning import EmbedderTuning

            options["advanced"] = EmbedderTuning(separate_threshold_db=threshold)
    elif threshold is not None:
        raise ConfigError("--separate-threshold needs --separate.")
    if hasattr(args, "level"):
        options["level_dbfs"] = args.level
    return options


def add_diarizer_arguments(p: argparse.ArgumentParser) -> None:
    """``--overlap-detector {default,none,PATH}`` and ``--level DBFS|off`` for commands that run
    the offline diarizer."""
    p.add_argument(
        "--overlap-detector",
        default="default",
        metavar="default|none|PATH",
        help="frame-level overlap detector of the offline diarizer: the shipped one (default), "
        "none (the turn-change rule instead), or a checkpoint from "
        "scripts/train_overlap_detector.py",
    )
    add_level_argument(
        p,
        help="active speech level (300-3400 Hz band) the recording is scaled to before the "
        "offline diarizer analyses it (default: the library's, -21 dBFS; written audio keeps "
        "the recording's level); 'off' analyses it as recorded",
    )


def diarizer_options(args: argparse.Namespace) -> dict[str, Any]:
    """:class:`voxref.separation.Diarizer` options from :func:`add_diarizer_arguments`.

    Examples
    --------
    >>> diarizer_options(argparse.Namespace(overlap_detector="none"))
    {'overlap_detector': None}
    >>> diarizer_options(argparse.Namespace(overlap_detector="default", level=None))
    {'overlap_detector': 'default', 'level_dbfs': None}
    """
    value = args.overlap_detector
    options: dict[str, Any] = {"overlap_detector": None if value.lower() == "none" else value}
    if hasattr(args, "level"):
        options["level_dbfs"] = args.level
    return options

"""``voxref clean IN -o OUT``: write the speech of a recording, denoised, for use as a reference."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def _denoise_policy(text: str) -> str:
    """``--denoise`` value: a policy name or ``dfn3-lim<N>``."""
    from ..cleaning.denoise import check_policy
    from ..errors import ConfigError

    try:
        return check_policy(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    from ..cleaning.denoise import AUTO_BABBLE_ATTEN_LIM_DB, AUTO_SNR_THRESHOLD_DB, DEFAULT_POLICY

    p = sub.add_parser(
        "clean",
        help="denoise a recording and keep only its speech",
        description=(
            "Find the speech (VAD), denoise it and write the speech regions joined together (or the "
            "whole denoised recording with --keep-silence). Prints the quality report to stderr."
        ),
    )
    p.add_argument("input", help="recording to clean (wav/flac/ogg/mp3)")
    p.add_argument("-o", "--output", required=True, help="output audio file (.wav, .flac, .ogg)")
    p.add_argument(
        "--denoise",
        default=DEFAULT_POLICY,
        type=_denoise_policy,
        metavar="{off,gate,gate-stationary,dfn3,dfn3-limN,auto}",
        help=f"denoiser (default: {DEFAULT_POLICY}; auto = below --snr-threshold dB of estimated "
        f"SNR, dfn3 for stationary noise and dfn3 limited to {AUTO_BABBLE_ATTEN_LIM_DB:g} dB of "
        "attenuation for babble; "
        "dfn3-limN removes at most N dB)",
    )
    p.add_argument(
        "--snr-threshold",
        type=float,
        default=AUTO_SNR_THRESHOLD_DB,
        help="SNR (dB) under which 'auto' denoises",
    )
    p.add_argument(
        "--keep-silence",
        action="store_true",
        help="write the whole denoised recording, pauses included",
    )
    p.add_argument(
        "--vad", default="silero", help="voice activity detector: silero (default) or energy"
    )
    p.add_argument(
        "--sample-rate", type=int, default=16_000, help="rate of the output file (default 16000)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from ..cleaning.pipeline import clean
    from ..cleaning.quality import format_reports
    from .output_paths import AUDIO_SUFFIXES, check_output, writing

    out = check_output(args.output, suffixes=AUDIO_SUFFIXES, inputs=[args.input])
    result = clean(
        args.input,
        vad=args.vad,
        denoise=args.denoise,
        snr_threshold_db=args.snr_threshold,
        target_sample_rate=args.sample_rate,
    )
    print(format_reports([result.report]), file=sys.stderr)
    if result.report.verdict == "reject":
        print(f"voxref: not written: {args.input} was rejected", file=sys.stderr)
        return 1
    audio = result.denoised if args.keep_silence else result.speech
    samples = audio.samples
    peak = float(np.max(np.abs(samples))) if len(samples) else 0.0
    if peak > 1.0:  # denoising can overshoot full scale: scale rather than clip on write
        samples = samples / peak
        print(f"voxref: scaled by {1 / peak:.3f} to avoid clipping", file=sys.stderr)
    with writing(out):
        sf.write(str(out), samples, audio.sample_rate)
    for step in audio.history:
        print(f"  {step}", file=sys.stderr)
    print(
        f"wrote {out}: {len(samples) / audio.sample_rate:.2f} s at {audio.sample_rate} Hz",
        file=sys.stderr,
    )
    return 0

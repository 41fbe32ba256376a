"""``voxref inspect FILES... -o report.html``: an HTML report of what voxref saw in the references."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "inspect",
        help="write a self-contained HTML report (plots, audio) of one speaker's references",
        description=(
            "Show what voxref sees in reference recordings: a quality table with pooling weights; "
            "per reference the waveform and spectrogram with speech regions, diarization turns and "
            "the target mask, and the cleaned audio; the similarity between references and a map "
            "of their window embeddings. With --prompt-sidecar (or --prompt) also the pieces of a "
            "reference prompt on each timeline, their table and a player. With --speakers DIR "
            "(one sub-folder per speaker) also a map and a similarity matrix of the speakers. One HTML file, no network needed; the "
            "PNGs are also written to <output stem>_figures/."
        ),
    )
    p.add_argument("files", nargs="*", help="one speaker's reference recordings")
    p.add_argument("-o", "--output", required=True, help="HTML file to write")
    p.add_argument(
        "--speakers", metavar="DIR", help="folder with one sub-folder of recordings per speaker"
    )
    p.add_argument(
        "--no-diarize", action="store_true", help="do not run diarization (faster; no turns drawn)"
    )
    p.add_argument(
        "--projection", choices=("pca", "tsne"), default="pca", help="2-D map method (default pca)"
    )
    p.add_argument(
        "--max-audio-seconds",
        type=float,
        default=30.0,
        help="length cap of each embedded audio player (default 30)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the t-SNE map")
    pr = p.add_argument_group("prompt (the pieces `voxref prompt` chose, on each timeline)")
    pr.add_argument(
        "--prompt-sidecar",
        metavar="JSON",
        help="show the prompt of this sidecar (written by voxref prompt; its .wav beside it)",
    )
    pr.add_argument(
        "--prompt",
        action="store_true",
        help="make a prompt from FILES and show it (slow: diarizes every reference; prefer "
        "--prompt-sidecar)",
    )
    pr.add_argument(
        "--preset", default=None, help="preset of the prompt made with --prompt (default generic)"
    )
    p.add_argument("--encoder", default="ge2e", help="encoder name or checkpoint (default ge2e)")
    p.add_argument(
        "--vad", default="silero", help="voice activity detector: silero (default) or energy"
    )
    p.add_argument(
        "--screenshot",
        metavar="PNG",
        help="also render the report in headless Chromium and save a screenshot",
    )
    p.add_argument(
        "--window-size",
        default="1280,2000",
        help="browser viewport WIDTH,HEIGHT for --screenshot (default 1280,2000)",
    )
    p.set_defaults(func=run, _parser=p)


def run(args: argparse.Namespace) -> int:
    from ..inspection.report import inspect
    from ..pipeline import Embedder

    if not args.files and not args.speakers:
        args._parser.error("give reference FILES, --speakers DIR, or both")
    if args.prompt and args.prompt_sidecar:
        args._parser.error("give --prompt (make one) or --prompt-sidecar JSON, not both")
    if args.preset is not None and not args.prompt:
        args._parser.error("--preset needs --prompt (a sidecar's prompt already has its preset)")
    if args.preset is not None:
        from ..prompting.presets import PRESETS

        if args.preset not in PRESETS:
            args._parser.error(f"--preset {args.preset!r}: choose one of {', '.join(PRESETS)}")
    from .output_paths import check_output

    # judged before any audio is read or model loaded
    check_output(args.output, suffixes=(".html", ".htm"), inputs=args.files)
    if args.screenshot:
        check_output(args.screenshot, suffixes=(".png",), inputs=args.files, option="--screenshot")
    prompt = args.prompt_sidecar or (True if args.prompt else None)
    if args.encoder == "ge2e":
        embedder = Embedder(vad=args.vad)
    else:
        embedder = Embedder.from_pretrained(args.encoder, vad=args.vad)
    rep = inspect(
        args.files,
        args.output,
        embedder=embedder,
        speakers_dir=args.speakers,
        diarize=not args.no_diarize,
        projection=args.projection,
        max_audio_seconds=args.max_audio_seconds,
        seed=args.seed,
        prompt=prompt,
        prompt_preset=args.preset,
    )
    print(
        f"wrote {rep.path} ({rep.size_bytes / 1e6:.1f} MB, {rep.num_references} reference(s), "
        f"{rep.num_speakers} speaker(s)); figures in {rep.path.parent / (rep.path.stem + '_figures')}"
    )
    if args.screenshot:
        from ..inspection.browser import render

        try:
            w, h = (int(v) for v in args.window_size.split(","))
        except ValueError:
            args._parser.error(f"--window-size {args.window_size!r}: give WIDTH,HEIGHT")
        shot = render(rep.path, screenshot=args.screenshot, window_size=(w, h))
        loaded = 'data-images-loaded="true"' in shot.dom
        print(f"screenshot {shot.screenshot} (images loaded: {'yes' if loaded else 'NO'})")
        if not loaded:
            return 1
    return 0

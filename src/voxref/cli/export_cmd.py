"""``voxref export FORMAT SOURCE -o OUT``: a training set's embeddings in the files a recipe reads.

Every option is checked, and every file named is looked for, before any audio is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .options import add_embedder_arguments, embedder_options

__all__ = ["register", "run", "FORMATS"]

FORMATS = ("coqui", "rtvc", "espnet", "hf")

#: Options that only one format uses: given with another format, they are refused.
_FORMAT_OPTIONS = {
    "dataset_name": ("coqui", "--dataset-name"),
    "merge": ("coqui", "--merge"),
    "tts_config": ("coqui", "--tts-config"),
    "scp_prefix": ("espnet", "--scp-prefix"),
    "any_dim": ("hf", "--any-dim"),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="export a training set's speaker embeddings for Coqui, RTVC, ESPnet or HF datasets",
        description=(
            "Embed every clip of a TTS training set and write the file its recipe reads: "
            "coqui (d_vector_file speakers.pth/.json keyed dataset_name#relpath), rtvc (SV2TTS "
            "embeds/embed-*.npy; SOURCE may be RTVC's synthesizer folder with train.txt), espnet "
            "(xvector.scp/.ark + spk_xvector.scp/.ark), hf (Parquet with a speaker_embeddings "
            "column for SpeechT5). SOURCE: an LJSpeech folder (metadata.csv + wavs/), a Coqui "
            "metadata file (audio_file|text|speaker_name), a voxref manifest (path,speaker), a "
            "Kaldi data dir (wav.scp + utt2spk) or a folder of audio files (one sub-folder per "
            "speaker). A sidecar *.voxref.json records the encoder, its weights' sha256, the "
            "preprocessing and every clip's fate and quality."
        ),
    )
    p.add_argument("format", choices=FORMATS, metavar="FORMAT", help=" | ".join(FORMATS))
    p.add_argument("source", metavar="SOURCE", help="dataset folder, metadata file or manifest")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        metavar="OUT",
        help="coqui: speakers.pth or .json; rtvc: the embeds folder (default SOURCE/embeds for "
        "an SV2TTS synthesizer folder); espnet: the folder for xvector.scp (ESPnet's "
        "dump/xvector/<set>); hf: a .parquet file",
    )
    p.add_argument(
        "--root",
        default=None,
        help="dataset root the recipe is given (Coqui's dataset 'path'): relative audio paths "
        "are read from it and clip keys are relative to it (default: the dataset folder, or "
        "the manifest's)",
    )
    p.add_argument("--speaker", default=None, help="one speaker name for every clip")
    p.add_argument(
        "--mode",
        choices=("voxref", "rtvc"),
        default="voxref",
        help="voxref (default: cleaned, levelled, target voice only) or rtvc (RTVC's exact "
        "encoder preprocessing and embed_utterance; GE2E encoders only)",
    )
    p.add_argument(
        "--vectors",
        choices=("clip", "speaker"),
        default="clip",
        help="clip (default: each clip's own vector, as the recipes compute them) or speaker "
        "(voxref's pooled speaker vector under every clip's key)",
    )
    p.add_argument(
        "--bridge", default=None, help="a fitted voxref bridge (.pt) applied to the vectors"
    )
    p.add_argument(
        "--allow-missing",
        action="store_true",
        help="write the export even if some clips cannot be embedded (they are listed in the "
        "sidecar; coqui/espnet/rtvc training will then fail on them, hf leaves their rows out)",
    )
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="voxref mode: clips of one speaker per embedding call (default 32; bounds memory)",
    )
    g = p.add_argument_group("coqui")
    g.add_argument(
        "--dataset-name",
        default=None,
        help="(required for coqui) the dataset_name of your Coqui dataset config: keys are "
        "'<dataset-name>#<relpath without extension>'",
    )
    g.add_argument(
        "--merge", default=None, metavar="FILE", help="existing speakers.pth/.json to keep"
    )
    g.add_argument(
        "--tts-config",
        default=None,
        metavar="config.json",
        help="the Coqui model's config: refuse vectors whose size is not its d_vector_dim",
    )
    g = p.add_argument_group("espnet")
    g.add_argument(
        "--scp-prefix",
        default=None,
        metavar="DIR",
        help="folder the scp names the ark by (e.g. dump/xvector/tr_no_dev, relative to the "
        "recipe folder); default the ark's absolute path",
    )
    g = p.add_argument_group("hf")
    g.add_argument(
        "--any-dim",
        action="store_true",
        help="write vectors of any size (default: refuse all but SpeechT5's 512)",
    )
    add_embedder_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _check_options(args: argparse.Namespace) -> None:
    for attr, (fmt, flag) in _FORMAT_OPTIONS.items():
        if getattr(args, attr) not in (None, False) and args.format != fmt:
            raise ConfigError(f"{flag} is a {fmt} option; it does nothing for {args.format}.")
    if args.format == "coqui":
        if args.dataset_name is None:
            raise ConfigError(
                "coqui needs --dataset-name: the dataset_name of your Coqui dataset config "
                "(Coqui keys every clip '<dataset_name>#<relpath>'; its default is '')."
            )
        if args.merge and not Path(args.merge).is_file():
            raise ConfigError(f"--merge {args.merge} does not exist.")
    if args.mode == "rtvc":
        if args.bridge:
            raise ConfigError("--bridge maps vectors out of GE2E's space; not with --mode rtvc.")
        for flag, given in (
            ("--pooling", args.pooling),
            ("--no-clean", args.no_clean),
            ("--separate", args.separate),
            ("--level", hasattr(args, "level")),
        ):
            if given:
                raise ConfigError(f"{flag} changes voxref's preprocessing; not with --mode rtvc.")
    if args.chunk_size is not None:
        if args.mode == "rtvc":
            raise ConfigError("--chunk-size does nothing with --mode rtvc (clips run one by one).")
        if args.chunk_size < 1:
            raise ConfigError("--chunk-size must be >= 1.")


def _output(args: argparse.Namespace, synth_root: bool) -> Path:
    if args.output is None:
        if args.format == "rtvc" and synth_root:
            return Path(args.source) / "embeds"
        raise ConfigError(f"{args.format} needs -o/--output.")
    out = Path(args.output)
    want = {"coqui": (".pth", ".json"), "hf": (".parquet",)}.get(args.format)
    if want and out.suffix not in want:
        raise ConfigError(f"{args.format} writes a {' or '.join(want)} file, not {out.name!r}.")
    return out


def run(args: argparse.Namespace) -> int:
    from ..tts.formats.compute import embed_dataset_clips, rtvc_encoder
    from ..tts.formats.dataset import DatasetClip, list_dataset

    _check_options(args)
    synth_root = args.format == "rtvc" and (Path(args.source) / "train.txt").is_file()
    out = _output(args, synth_root)
    names = None
    if synth_root:
        from ..tts.formats.rtvc import read_train_txt

        if args.root or args.speaker or args.chunk_size is not None:
            raise ConfigError(
                "--root/--speaker/--chunk-size do nothing for an SV2TTS synthesizer folder "
                "(its utterances are embedded one by one)."
            )
        items = read_train_txt(args.source)
        clips = [DatasetClip(i.audio, i.utt_id, i.utt_id, i.utt_id) for i in items]
        names = {i.utt_id: i.embed_name for i in items}
    else:
        clips = list_dataset(args.source, root=args.root, speaker=args.speaker)
    bridge = None
    if args.bridge:
        from ..tts.bridge import load_bridge

        bridge = load_bridge(args.bridge)
    embedder = encoder = None
    if args.mode == "rtvc":
        encoder = rtvc_encoder(args.encoder)
        dim = encoder.dimension
    else:
        from ..pipeline import Embedder

        embedder = Embedder(**embedder_options(args))
        dim = embedder.dimension
        if bridge is not None:
            if bridge.source_dim != dim:
                raise ConfigError(
                    f"--bridge maps {bridge.source_dim}-d vectors; --encoder {args.encoder} "
                    f"gives {dim}-d."
                )
            dim = bridge.target_dim
    _check_dimension(args, dim)
    emb = embed_dataset_clips(
        clips,
        mode=args.mode,
        embedder=embedder,
        encoder=encoder,
        bridge=bridge,
        chunk_size=1 if synth_root else args.chunk_size or 32,
        progress=not args.quiet,
    )
    settings = {"source": str(args.source), "root": args.root, "mode": args.mode}
    if args.format == "coqui":
        from ..tts.formats.coqui import export_coqui

        files, side = export_coqui(
            emb,
            out,
            dataset_name=args.dataset_name,
            vectors=args.vectors,
            merge_into=args.merge,
            tts_config=args.tts_config,
            allow_missing=args.allow_missing,
            settings=settings,
        )
        files = [files]
    elif args.format == "rtvc":
        from ..tts.formats.rtvc import export_rtvc

        files, side = export_rtvc(
            emb,
            out,
            names=names,
            vectors=args.vectors,
            allow_missing=args.allow_missing,
            settings=settings,
        )
    elif args.format == "espnet":
        from ..tts.formats.espnet import export_espnet

        files, side = export_espnet(
            emb,
            out,
            vectors=args.vectors,
            scp_path_prefix=args.scp_prefix,
            allow_missing=args.allow_missing,
            settings=settings,
        )
    else:
        from ..tts.formats.hf import export_hf

        files, side = export_hf(
            emb,
            out,
            vectors=args.vectors,
            speecht5=not args.any_dim,
            allow_missing=args.allow_missing,
            settings=settings,
        )
        files = [files]
    done = len(emb.vectors)
    print(f"{done}/{len(emb.records)} clips, {len(emb.speakers)} speakers, {emb.dimension}-d")
    for f in files[:4]:
        print(f"wrote {f}")
    if len(files) > 4:
        print(f"... and {len(files) - 4} more files")
    print(f"sidecar {side}")
    return 0 if done == len(emb.records) else 3


def _check_dimension(args: argparse.Namespace, dim: int) -> None:
    """Size checks that need no audio: the model config's d_vector_dim, SpeechT5's 512, RTVC's
    256."""
    from ..tts.export import EmbeddingDimensionError

    if args.format == "coqui" and args.tts_config:
        from ..tts.formats.coqui import check_d_vector_dim

        check_d_vector_dim(dim, args.tts_config)
    elif args.format == "hf" and not args.any_dim and dim != 512:
        raise EmbeddingDimensionError(
            f"SpeechT5 takes 512-d x-vectors; --encoder {args.encoder} gives {dim}-d. Use "
            "--encoder speechbrain/spkrec-xvect-voxceleb, a --bridge to 512, or --any-dim."
        )
    elif args.format == "rtvc" and dim != 256:
        raise EmbeddingDimensionError(
            f"RTVC's synthesizer takes 256-d GE2E vectors; this encoder gives {dim}-d."
        )

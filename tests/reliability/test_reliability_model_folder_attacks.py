"""No code runs from a model folder: names in YAML are judged by the object they resolve to.

HyperPyYAML resolves ``!new:``/``!name:``/``!apply:`` targets with :func:`pydoc.locate`, which
walks attributes: a target *spelled* inside an allowed module can end anywhere
(``torch.nn.parallel.distributed.os.system`` is ``os.system``). pyannote's pipeline loader imports
whatever class ``config.yaml`` names and unpickles its models. These tests hand every entry point
such folders and check that nothing runs (a marker file never appears) and that a voxref error
says why; the YAML check is also fuzzed with generated tag paths.
"""

from __future__ import annotations

import importlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voxref.allowlist import AllowList, resolve_allowed
from voxref.embedder.speechbrain_backend import (
    DEFAULT_ALLOWED_YAML_TARGETS,
    check_hyperparams,
    yaml_allow_list,
)
from voxref.errors import UnsafeCheckpointError, VoxrefError

REPO = Path(__file__).resolve().parents[2]

#: Targets spelled inside an allowed namespace that reach something dangerous.
HOPS = [
    "torch.nn.parallel.distributed.os.system",  # the reported attack
    "torch.nn.functional.importlib.import_module",  # imports any module
    "torch.nn.modules.module.os.system",
    "torch.nn.functional.torch.load",
    "torch.nn.modules.module.torch.hub.load",
    "speechbrain.nnet.CNN.torch.load",
    "speechbrain.lobes.features.torch.hub.load",
    "speechbrain.processing.features.torch.load",
    "torch.nn.functional.handle_torch_function",  # defined in torch.overrides
    "torch.nn.Module.load_state_dict",  # a walk through a class
    "torch.nn.Module.__init__",  # dunder
    "torch.nn.Module.__init__.__globals__",
    "speechbrain.dataio.encoder.CategoricalEncoder.load",  # a method of an exact entry
    "speechbrain.utils.parameter_transfer.Pretrainer.collect_files",
    "torch.nn.functional.Callable",  # re-exported from typing
    "torch.nn",  # a module itself
]

#: What an attacker wants to reach; a resolved target must never be one of these.
DANGEROUS = {
    id(o)
    for o in (
        os.system,
        os.popen,
        os.remove,
        subprocess.Popen,
        subprocess.run,
        importlib.import_module,
        __import__,
        eval,
        exec,
        open,
        getattr,
        setattr,
        shutil.rmtree,
        torch.load,
        torch.hub.load,
    )
}


def _write_payload(folder: Path, target: str, marker: Path) -> None:
    hp = folder / "hyperparams.yaml"
    hp.write_text(f'pwn: !apply:{target} ["touch {marker}"]\n' + hp.read_text())


# ------------------------------------------------------------------------- the resolver
@pytest.mark.parametrize("target", HOPS)
def test_hop_targets_are_refused(target: str) -> None:
    with pytest.raises(UnsafeCheckpointError) as info:
        resolve_allowed(target, yaml_allow_list())
    assert info.value.reason  # the rule that refused it is named
    with pytest.raises(UnsafeCheckpointError, match="allow-list"):
        check_hyperparams(f"x: !new:{target}\n")


def test_real_model_targets_are_allowed() -> None:
    """What hub SpeechBrain models name (ECAPA, x-vector, SepFormer) still loads."""
    names = [
        "speechbrain.lobes.features.Fbank",
        "speechbrain.processing.features.InputNormalization",
        "speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN",
        "speechbrain.lobes.models.ECAPA_TDNN.Classifier",
        "speechbrain.lobes.models.Xvector.Xvector",
        "speechbrain.lobes.models.dual_path.Encoder",
        "speechbrain.lobes.models.dual_path.SBTransformerBlock",
        "speechbrain.lobes.models.dual_path.Dual_Path_Model",
        "speechbrain.lobes.models.dual_path.Decoder",
        "speechbrain.dataio.encoder.CategoricalEncoder",
        "speechbrain.utils.parameter_transfer.Pretrainer",
        "torch.nn.ReLU",
        "torch.nn.functional.relu",
    ]
    rules = yaml_allow_list()
    for n in names:
        assert resolve_allowed(n, rules) is not None


def _hop_paths() -> list[str]:
    """Every ``<module in an allowed namespace>.<module attribute>.<callable>`` that reaches a
    module outside the namespace: generated from what the allowed modules really hold."""
    rules = yaml_allow_list()
    out = []
    for ns in rules.namespaces:
        try:
            root = importlib.import_module(ns)
        except ImportError:
            parent, _, attr = ns.rpartition(".")
            root = importlib.import_module(parent)
        mods = [root] + [
            m for m in list(sys.modules.values()) if getattr(m, "__name__", "").startswith(ns + ".")
        ]
        for mod in mods[:40]:
            for attr, value in sorted(vars(mod).items()):
                if attr.startswith("_") or not inspect.ismodule(value):
                    continue
                if value.__name__.startswith(ns):
                    continue
                for fn in ("system", "import_module", "load", "Popen", "run", "open", "remove"):
                    if callable(getattr(value, fn, None)):
                        out.append(f"{mod.__name__}.{attr}.{fn}")
    return sorted(set(out))


def test_generated_module_hops_are_all_refused() -> None:
    paths = _hop_paths()
    assert len(paths) > 20, paths  # the generator really found hops to test
    allowed = []
    for p in paths:
        try:
            resolve_allowed(p, yaml_allow_list())
        except UnsafeCheckpointError:
            continue
        allowed.append(p)
    assert not allowed


_SEGMENTS = st.sampled_from(
    [
        "os",
        "sys",
        "importlib",
        "subprocess",
        "builtins",
        "torch",
        "hub",
        "system",
        "import_module",
        "load",
        "Popen",
        "open",
        "eval",
        "exec",
        "functional",
        "modules",
        "module",
        "Module",
        "Linear",
        "parallel",
        "distributed",
        "CNN",
        "Conv1d",
        "features",
        "Fbank",
        "__init__",
        "__globals__",
        "__builtins__",
        "__class__",
        "load_state_dict",
        "relu",
        "utils",
        "sf",
        "np",
        "Path",
        "F",
        "nn",
    ]
)
_PREFIXES = st.sampled_from(
    [e.rstrip(".") for e in DEFAULT_ALLOWED_YAML_TARGETS] + ["torch", "speechbrain", "os"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=_PREFIXES, tail=st.lists(_SEGMENTS, min_size=0, max_size=4))
def test_fuzzed_tag_paths_resolve_only_to_networks_and_features(prefix, tail) -> None:
    """Whatever the path, a resolved target is a network class or a function defined inside an
    allowed namespace (or an exact entry), never a dangerous callable, and resolving it imported
    nothing outside torch / speechbrain."""
    name = ".".join([prefix, *tail])
    rules = yaml_allow_list()
    before = set(sys.modules)
    try:
        obj = resolve_allowed(name, rules)
    except UnsafeCheckpointError:
        obj = None
    new = {m.split(".")[0] for m in set(sys.modules) - before}
    assert new <= {"torch", "speechbrain"}, new
    if obj is None:
        return
    assert id(obj) not in DANGEROUS, name
    canonical = f"{obj.__module__}.{obj.__qualname__}"
    if canonical in rules.exact:
        return
    assert any(
        obj.__module__ == ns or obj.__module__.startswith(ns + ".") for ns in rules.namespaces
    ), name
    assert not any(obj.__module__.startswith(d) for d in rules.denied), name
    if inspect.isclass(obj):
        assert issubclass(obj, torch.nn.Module), name
    else:
        assert inspect.isfunction(obj) or inspect.isbuiltin(obj), name


def test_exact_entry_is_not_a_namespace() -> None:
    rules = AllowList(exact=("collections.Counter",), base_classes=())
    assert resolve_allowed("collections.Counter", rules).__name__ == "Counter"
    for bad in ("collections.OrderedDict", "collections.Counter.fromkeys", "collections.abc"):
        with pytest.raises(UnsafeCheckpointError):
            resolve_allowed(bad, rules)


# ------------------------------------------------------------------------- every entry point
@pytest.fixture(scope="module")
def reference_wav(tmp_path_factory, speech_by_speaker) -> Path:
    return next(iter(speech_by_speaker.values()))[0]


@pytest.fixture()
def evil_ecapa(tmp_path) -> tuple[Path, Path]:
    from voxref.embedder.testing import make_speechbrain_ecapa_dir

    d = make_speechbrain_ecapa_dir(tmp_path / "model")
    marker = tmp_path / "PWNED"
    _write_payload(d, "torch.nn.parallel.distributed.os.system", marker)
    return d, marker


def test_reported_attack_through_the_cli_leaves_no_trace(evil_ecapa, reference_wav, tmp_path):
    d, marker = evil_ecapa
    out = subprocess.run(
        [sys.executable, "-m", "voxref", "embed", str(reference_wav), "--encoder", str(d)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "false"},
        timeout=300,
    )
    assert out.returncode != 0
    assert "allow-list" in out.stderr + out.stdout
    assert not marker.exists()
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("target", HOPS[:8])
def test_attack_variants_through_the_python_entry_points(target, tmp_path, reference_wav):
    import voxref
    from voxref.embedder.loader import load_pretrained
    from voxref.embedder.testing import make_speechbrain_ecapa_dir

    d = make_speechbrain_ecapa_dir(tmp_path / "model")
    marker = tmp_path / "PWNED"
    _write_payload(d, target, marker)
    with pytest.raises(UnsafeCheckpointError):
        load_pretrained(d)
    with pytest.raises(UnsafeCheckpointError):
        voxref.Embedder.from_pretrained(d)
    with pytest.raises(VoxrefError):
        voxref.Embedder(encoder=str(d)).embed([reference_wav])
    assert not marker.exists()


def test_attack_through_a_separator_folder(tmp_path, reference_wav):
    import voxref
    from voxref.separation.speechbrain_separator import SpeechBrainSeparator
    from voxref.separation.testing import build_tiny_sepformer

    d = build_tiny_sepformer(tmp_path / "sep")
    marker = tmp_path / "PWNED"
    _write_payload(d, "torch.nn.functional.importlib.import_module", marker)
    hp = d / "hyperparams.yaml"
    hp.write_text(hp.read_text().replace(f'["touch {marker}"]', '["antigravity"]'))
    with pytest.raises(UnsafeCheckpointError):
        SpeechBrainSeparator.load(str(d))
    with pytest.raises(VoxrefError):
        voxref.Embedder(separate=str(d)).embed([reference_wav, reference_wav])
    assert "antigravity" not in sys.modules


# ------------------------------------------------------------------------- pyannote pipelines
@pytest.fixture(scope="module")
def tiny_pipeline(tmp_path_factory) -> Path:
    from voxref.separation.testing import build_tiny_diarization_pipeline

    return build_tiny_diarization_pipeline(tmp_path_factory.mktemp("pipe"), seed=0)


def _evil_pipeline(src: Path, dst: Path, config: str | None = None) -> Path:
    shutil.copytree(src, dst)
    if config is not None:
        (dst / "config.yaml").write_text(config)
    return dst


PIPELINE_ATTACKS = {
    "class_is_popen": "pipeline:\n  name: subprocess.Popen\n  params:\n    args: 'touch {m}'\n"
    "    shell: true\n",
    "class_hop": "pipeline:\n  name: pyannote.audio.pipelines.speaker_diarization.os.system\n"
    "  params: {{}}\n",
    "preprocessor": "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n  params:\n"
    "    segmentation: $model/segmentation\n    embedding: $model/embedding\n    plda: $model/plda\n"
    "preprocessors:\n  audio:\n    name: subprocess.Popen\n    params:\n      args: 'touch {m}'\n"
    "      shell: true\n",
    "embedding_hub_id": "pipeline:\n  name: pyannote.audio.pipelines.SpeakerDiarization\n"
    "  params:\n    segmentation: $model/segmentation\n"
    "    embedding: speechbrain/spkrec-ecapa-voxceleb\n    plda: $model/plda\n",
}


@pytest.mark.parametrize("kind", sorted(PIPELINE_ATTACKS))
def test_pipeline_config_attacks_are_refused(kind, tiny_pipeline, tmp_path):
    from voxref.separation.pyannote_backend import load_pipeline

    marker = tmp_path / "PWNED"
    d = _evil_pipeline(tiny_pipeline, tmp_path / "pipe", PIPELINE_ATTACKS[kind].format(m=marker))
    with pytest.raises(VoxrefError):
        load_pipeline(d)
    assert not marker.exists()


def test_pipeline_with_a_pickle_payload_in_its_model_is_refused(tiny_pipeline, tmp_path):
    from voxref.separation.pyannote_backend import load_pipeline

    marker = tmp_path / "PWNED"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    d = _evil_pipeline(tiny_pipeline, tmp_path / "pipe")
    ckpt = torch.load(d / "segmentation" / "pytorch_model.bin", weights_only=False)
    ckpt["evil"] = Evil()
    torch.save(ckpt, d / "segmentation" / "pytorch_model.bin")
    with pytest.raises(UnsafeCheckpointError):
        load_pipeline(d)
    assert not marker.exists()


def test_diarize_cli_with_an_evil_pipeline_leaves_no_trace(tiny_pipeline, tmp_path, reference_wav):
    marker = tmp_path / "PWNED"
    d = _evil_pipeline(
        tiny_pipeline, tmp_path / "pipe", PIPELINE_ATTACKS["class_is_popen"].format(m=marker)
    )
    x, sr = sf.read(reference_wav, dtype="float32")
    wav = tmp_path / "a.wav"
    sf.write(wav, np.concatenate([x, x]), sr)
    out = subprocess.run(
        [sys.executable, "-m", "voxref", "diarize", str(wav), "--pipeline", str(d)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "false"},
        timeout=300,
    )
    assert out.returncode != 0
    assert "nothing was built" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
    assert not marker.exists()

"""Bridges: learned maps from one speaker-embedding space to another.

A TTS model only understands the encoder space it was trained on (SpeechT5: 512-d
``spkrec-xvect-voxceleb`` x-vectors; RTVC: 256-d GE2E; a Coqui model: whatever its
``d_vector_file`` used). A bridge is fitted on *paired* embeddings — the same clips embedded by
both encoders — and then maps voxref's robust pooled embedding into the target space.

======================  ========================================================================
:class:`RidgeBridge`    linear least squares with an intercept and L2 penalty ``alpha``
:class:`ProcrustesBridge`  centred, scaled orthogonal Procrustes (a rotation: keeps angles);
                        the source is first PCA-reduced (larger) or zero-padded (smaller) to the
                        target dimension
:class:`MLPBridge`      linear path + one hidden ReLU layer (torch), trained on cosine loss,
                        seeded and full-batch, so deterministic
======================  ========================================================================

Every output is L2-normalised. :func:`fit_and_evaluate` splits by *speaker* (held-apart speakers
never seen in fitting) and reports the mean cosine between mapped and true target embeddings
("cosine retention"), next to the cosine an input-blind map reaches (the mean training target)
and the correlation of the speaker-similarity structure. Bridges save with :meth:`Bridge.save`
and load with :func:`load_bridge` (``torch.load(weights_only=True)``).

How to build a real bridge (needs the target model's weights, e.g. once online)::

    from voxref.embedder.loader import load_pretrained
    from voxref.embedder.ge2e import GE2EEncoder
    from voxref.tts.bridge import paired_embeddings, fit_and_evaluate

    src = GE2EEncoder()                                        # voxref's default, 256-d
    tgt = load_pretrained("speechbrain/spkrec-xvect-voxceleb")  # SpeechT5's space, 512-d
    clips, speakers = ...        # a few thousand clips of a few hundred speakers (VCTK, LibriTTS)
    X, Y = paired_embeddings(clips, src, tgt)
    bridge, report = fit_and_evaluate("ridge", X, Y, speakers)
    print(report)                # held-apart cosine vs. the input-blind baseline
    bridge.save("ge2e_to_xvect.pt")
    # later: voxref.tts.export.export_speecht5(voxref.embed(refs), "me.pt", bridge=bridge)

The tests only wire GE2E -> a randomly initialised ECAPA together: numbers from random weights
mean nothing about real spaces.

The bridge kinds, saving and loading: :mod:`voxref.tts.bridge_maps`; the held-apart evaluation
and paired embeddings: :mod:`voxref.tts.bridge_eval`. Everything is importable from here.
"""

from __future__ import annotations

from .bridge_eval import BridgeReport, evaluate_bridge, fit_and_evaluate, paired_embeddings
from .bridge_maps import (
    BRIDGE_KINDS,
    Bridge,
    MLPBridge,
    ProcrustesBridge,
    RidgeBridge,
    fit_bridge,
    load_bridge,
)

__all__ = [
    "Bridge",
    "RidgeBridge",
    "ProcrustesBridge",
    "MLPBridge",
    "BRIDGE_KINDS",
    "BridgeReport",
    "fit_bridge",
    "load_bridge",
    "evaluate_bridge",
    "fit_and_evaluate",
    "paired_embeddings",
]

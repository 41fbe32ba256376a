"""Use voxref embeddings with TTS and voice-cloning tools.

:mod:`voxref.tts.export` writes (and reads back) ``.npy``, Coqui ``d_vector_file``, SpeechT5
``(1, 512)`` tensors and RTVC ``(256,)`` embeddings with a JSON sidecar; :mod:`voxref.tts.bridge`
fits maps between embedding spaces (ridge, Procrustes, MLP) on paired embeddings;
:mod:`voxref.tts.formats` exports a whole training set (one vector per clip) as Coqui, RTVC,
ESPnet and Hugging Face recipes read it (``voxref export``).
"""

from .bridge import (
    Bridge,
    BridgeReport,
    MLPBridge,
    ProcrustesBridge,
    RidgeBridge,
    fit_and_evaluate,
    fit_bridge,
    load_bridge,
    paired_embeddings,
)
from .export import (
    EXPORT_FORMATS,
    EmbeddingDimensionError,
    export_coqui_d_vectors,
    export_embedding,
    export_npy,
    export_rtvc,
    export_speecht5,
    load_coqui_d_vectors,
    load_npy,
    load_rtvc,
    load_speecht5,
    read_sidecar,
)

__all__ = [
    "Bridge",
    "BridgeReport",
    "MLPBridge",
    "ProcrustesBridge",
    "RidgeBridge",
    "fit_and_evaluate",
    "fit_bridge",
    "load_bridge",
    "paired_embeddings",
    "EXPORT_FORMATS",
    "EmbeddingDimensionError",
    "export_coqui_d_vectors",
    "export_embedding",
    "export_npy",
    "export_rtvc",
    "export_speecht5",
    "load_coqui_d_vectors",
    "load_npy",
    "load_rtvc",
    "load_speecht5",
    "read_sidecar",
]

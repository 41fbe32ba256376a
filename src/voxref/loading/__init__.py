"""Reading model files safely: the ground floor every model-holding package stands on.

* :mod:`.safe` — :func:`~.safe.safe_torch_load` (``torch.load(weights_only=True)`` with errors
  that say what to do); every torch checkpoint voxref reads goes through it.
* :mod:`.modules` — the small-module format (``{format, config, state_dict, metadata}``) of the
  separator, target extractor, overlap detector and pooling head (:class:`~.modules.SavedModule`).
* :mod:`.hub` — Hugging Face hub access: :func:`~.hub.is_hub_id`, :func:`~.hub.hub_file`.
* :mod:`.speechbrain` — a SpeechBrain model directory, its ``hyperparams.yaml`` checked against
  an allow-list before anything is built.
* :mod:`.pyannote` — a pyannote checkpoint unpickled against pyannote's own allow-list.

The encoder checkpoint format and :func:`voxref.embedder.loader.load_pretrained` stand above, in
:mod:`voxref.embedder`.
"""

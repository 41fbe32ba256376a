"""Who speaks when, and which windows belong to the target speaker.

Modules (import the one you need; this package imports nothing heavy by itself):

* :mod:`.diarization` — offline diarizer (VAD, GE2E window embeddings, clustering,
  resegmentation) -> ``pyannote.core.Annotation``; :func:`~.diarization.diarize`. Its result
  (:mod:`.diarization_result`), its advanced options (:mod:`.diarization_tuning`,
  ``Diarizer(advanced=DiarizerTuning(...))``) and its overlap rules (:mod:`.overlap_rules`).
* :mod:`.overlap_detector` — a frame-level speaker counter (nobody / one / overlap per 10 ms;
  ``scripts/train_overlap_detector.py``, shipped) that the diarizer uses to label overlap.
* :mod:`.pyannote_backend` — run a user-supplied pyannote.audio pipeline instead.
* :mod:`.guide` — :func:`~.guide.target_activity`: soft target activity of every window of every
  reference (cross-reference agreement or an enrollment guide), for guided pooling
  (:mod:`.guided_pooling`, which ``voxref.embedder.pooling`` re-exports).
* :mod:`.dominant` — :func:`~.dominant.lone_reference_target`: a lone reference's dominant voice
  without another speaker's turns (short windows; what ``embed`` does with a single reference).
* :mod:`.separator` — a speaker-independent two-talker separator (uPIT masks;
  ``scripts/train_separator.py``); :mod:`.speechbrain_separator` — a pretrained SpeechBrain
  SepFormer in its place; :mod:`.streams` — the guide picks the target's stream
  (``Embedder(separate=...)``).
* :mod:`.extractor` — a guide-conditioned mask estimator (trainable; not shipped: see
  ``scripts/train_target_extractor.py`` and BENCHMARKS.md).
* :mod:`.target` — :func:`~.target.extract_target`: the target's part of a multi-speaker recording.
* :mod:`.clustering`, :mod:`.resegment`, :mod:`.speech`, :mod:`.windows` — the diarizer's stages.
* :mod:`.synthetic` — synthetic multi-speaker conversations with known turns (tests, benchmarks).
* :mod:`.testing` — tiny randomly initialised pyannote checkpoints for offline wiring tests.
"""

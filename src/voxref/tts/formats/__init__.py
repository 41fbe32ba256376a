"""Dataset exports in the exact files TTS training recipes read.

===============  ==================================================================================
module           what it writes (and reads back)
===============  ==================================================================================
``coqui``        Coqui TTS ``d_vector_file`` keyed per clip as Coqui looks clips up
``rtvc``         Real-Time-Voice-Cloning ``embeds/`` (and its exact encoder preprocessing)
``espnet``       Kaldi ``xvector.scp`` / ``.ark`` (ESPnet's ``spembs``)
``hf``           a Parquet table with a ``speaker_embeddings`` column (SpeechT5 fine-tuning)
``provenance``   the sidecar every export writes
``dataset``      the clips of a training set (LJSpeech folder, Coqui metadata, voxref manifest)
===============  ==================================================================================

Submodules are imported on use: ``from voxref.tts.formats.coqui import ...``.
"""

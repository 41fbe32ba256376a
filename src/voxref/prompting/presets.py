"""Prompt presets: the length, rate and shape each audio-conditioned TTS model wants.

Every number below names where it comes from. Where the model's code or card gives no number
(a *preferred* prompt length, for most models), the preset says "not stated upstream" and the
value is voxref's choice, not the model authors'.

=============  =======  ==========  ==========  ==========  =====================================
preset         rate Hz  target s    min s       max s       one contiguous stretch / transcript
=============  =======  ==========  ==========  ==========  =====================================
``generic``    24000    10          5           15          no / no
``xtts``       22050    10          6           30          no / no
``f5``         24000    10          5           12          yes / yes (reference text)
``cosyvoice``  16000    10          5           30          yes / yes (prompt text, zero-shot)
``openvoice``  22050    10          5           30          no / no
``styletts2``  24000    8           4           15          yes / no
=============  =======  ==========  ==========  ==========  =====================================

Sources (read in the models' public code; versions as found, not pinned):

* XTTS v2 (coqui-ai/TTS, ``TTS/tts/models/xtts.py``, ``Xtts.get_conditioning_latents``): the
  reference is loaded at ``load_sr=22050``, each reference is cut to ``max_ref_length=30`` s, and
  the GPT conditioning uses ``gpt_cond_len=6`` s (chunks of ``gpt_cond_chunk_len=6``); the speaker
  embedding is computed on a 16 kHz copy. Several reference files are accepted (a list), so the
  pieces need not be contiguous. min 6 s = ``gpt_cond_len``; target 10 s is voxref's choice.
* F5-TTS (SWivid/F5-TTS, ``src/f5_tts/infer/utils_infer.py``, ``preprocess_ref_audio_text``): a
  reference longer than 12 s is clipped at a silence ("Audio is over 12s, clipping short"), and
  the clip must keep matching ``ref_text``; the model works at ``target_sample_rate = 24000`` and
  raises a quiet reference to ``target_rms = 0.1``. One contiguous stretch, so the transcript a
  user writes for it is the words of one piece of speech. min 5 s / target 10 s: voxref's choice
  (not stated upstream).
* CosyVoice 2 (FunAudioLLM/CosyVoice, README usage and ``cosyvoice/cli/frontend.py``): the
  prompt is loaded with ``load_wav(path, 16000)`` (``prompt_speech_16k``) and the speech
  tokenizer refuses prompts longer than 30 s ("do not support extract speech token for audio
  longer than 30s"); zero-shot inference takes the prompt's text (``prompt_text``). Preferred
  length: not stated upstream (target 10 s, min 5 s: voxref's choice).
* OpenVoice (myshell-ai/OpenVoice, ``openvoice/api.py``, ``ToneColorConverter.extract_se``): the
  reference is loaded at ``hps.data.sampling_rate``, 22050 in the converter's ``config.json`` as
  quoted in third-party notes (the file itself was not read); several reference files are
  averaged. Lengths: not stated upstream (voxref's choice; max 30 s only to bound the work).
* StyleTTS 2 (yl4579/StyleTTS2, inference demo ``compute_style``): the reference is loaded at
  24000 Hz and trimmed with ``librosa.effects.trim(top_db=30)``. Lengths: not stated upstream
  (voxref's choice: one natural stretch of 4-15 s).
* ``generic``: voxref's choice for an unknown model (24 kHz, several pieces, 5-15 s).

Examples
--------
>>> get_preset("f5").max_seconds, get_preset("cosyvoice").sample_rate
(12.0, 16000)
>>> get_preset("tacotron")
Traceback (most recent call last):
...
voxref.errors.ConfigError: unknown prompt preset 'tacotron'; use one of generic, xtts, f5, cosyvoice, openvoice, styletts2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError

__all__ = ["PromptPreset", "PRESETS", "get_preset", "PROMPT_LEVEL_DBFS"]

PROMPT_LEVEL_DBFS = -20.0
"""Loudness prompts are levelled to: active speech level in dBFS over the full band (RMS of the
20 ms frames within 40 dB of the loudest, :func:`voxref.audio.level.active_level_db`), then
limited to a -1 dBFS peak. -20 dBFS RMS is F5-TTS's ``target_rms = 0.1``."""


@dataclass(frozen=True)
class PromptPreset:
    """What one TTS model wants from its audio prompt.

    Attributes
    ----------
    name
        Preset name.
    sample_rate
        Rate the prompt is written at (Hz).
    target_seconds
        Length aimed at.
    min_seconds
        Below this the prompt is returned with a :class:`~voxref.prompting.result.PromptTooShortWarning`.
    max_seconds
        Never longer than this.
    contiguous
        One contiguous stretch of one reference (the transcript of a prompt is then one piece of
        speech); otherwise several pieces joined by short pauses.
    needs_transcript
        The model also wants the words spoken in the prompt (voxref does not transcribe).
    source
        Where the numbers come from (see the module text).
    """

    name: str
    sample_rate: int
    target_seconds: float
    min_seconds: float
    max_seconds: float
    contiguous: bool
    needs_transcript: bool
    source: str

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: dict[str, PromptPreset] = {
    p.name: p
    for p in (
        PromptPreset("generic", 24000, 10.0, 5.0, 15.0, False, False, "voxref's choice"),
        PromptPreset(
            "xtts",
            22050,
            10.0,
            6.0,
            30.0,
            False,
            False,
            "coqui-ai/TTS xtts.py get_conditioning_latents: load_sr=22050, max_ref_length=30, "
            "gpt_cond_len=6; target length voxref's choice",
        ),
        PromptPreset(
            "f5",
            24000,
            10.0,
            5.0,
            12.0,
            True,
            True,
            "SWivid/F5-TTS utils_infer.py: reference clipped above 12 s, target_sample_rate "
            "24000; min/target voxref's choice",
        ),
        PromptPreset(
            "cosyvoice",
            16000,
            10.0,
            5.0,
            30.0,
            True,
            True,
            "FunAudioLLM/CosyVoice: prompt_speech_16k = load_wav(path, 16000), speech tokens "
            "refused above 30 s; min/target voxref's choice",
        ),
        PromptPreset(
            "openvoice",
            22050,
            10.0,
            5.0,
            30.0,
            False,
            False,
            "myshell-ai/OpenVoice api.py extract_se loads at hps.data.sampling_rate (22050 as "
            "quoted from converter/config.json, not read here); lengths not stated upstream",
        ),
        PromptPreset(
            "styletts2",
            24000,
            8.0,
            4.0,
            15.0,
            True,
            False,
            "yl4579/StyleTTS2 inference compute_style: librosa.load(sr=24000), trim top_db=30; "
            "lengths not stated upstream",
        ),
    )
}


def get_preset(name: str | PromptPreset) -> PromptPreset:
    """The :class:`PromptPreset` called ``name`` (a preset object is returned as is)."""
    if isinstance(name, PromptPreset):
        return name
    try:
        return PRESETS[name]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown prompt preset {name!r}; use one of {', '.join(PRESETS)}."
        ) from None

"""Audio input: load files / arrays / tensors, validate, downmix and resample explicitly."""

from .load import AudioInput, load_audio, read_file, validate
from .resample import downmix, resample
from .signal import Audio

__all__ = ["Audio", "AudioInput", "load_audio", "read_file", "validate", "resample", "downmix"]

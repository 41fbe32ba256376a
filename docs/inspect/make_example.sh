#!/usr/bin/env bash
# Rebuilds docs/inspect/example_report.html and docs/inspect/screenshot.png:
# pyannote's bundled 2-speaker sample.wav plus two synthetic fixture clips, rendered in headless
# Chromium (Debian: apt-get install chromium). Run from the repository root.
set -euo pipefail
export PYANNOTE_METRICS_ENABLED=false HF_HUB_OFFLINE=1
SAMPLE=$(realpath --relative-to=. "$(.venv/bin/python -c "from voxref.sample_data import pyannote_sample; print(pyannote_sample()[0])")")
.venv/bin/voxref inspect "$SAMPLE" tests/fixtures/speech/flite-awb_0.wav tests/fixtures/speech/espeak-us-m3_1.wav \
    -o docs/inspect/example_report.html \
    --screenshot docs/inspect/screenshot.png --window-size 1280,2700

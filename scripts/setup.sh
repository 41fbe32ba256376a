#!/usr/bin/env bash
# One-shot, idempotent set-up of a fresh machine for voxref: system packages, a venv in .venv with
# every dependency, and the torchaudio fix-up. Safe to run again: it skips work already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# 1. System packages: libsndfile for soundfile; espeak-ng/flite/sox synthesise test and benchmark
#    speech; chromium renders `voxref inspect` reports in the browser test. Only when missing
#    (needs root, as on the project's machines).
need_apt=()
for cmd in espeak-ng flite sox chromium; do command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$cmd"); done
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      espeak-ng flite sox libsndfile1 chromium >/dev/null
  else
    echo "setup: please install: ${need_apt[*]} (apt-get install espeak-ng flite sox chromium)" >&2
  fi
fi

# 1b. festival's non-English voices for the benchmark corpus (benchmarks/corpus/synth.py
#     FESTIVAL_VOICES). Only when missing and root; offline or unavailable packages are skipped
#     with a note and never fail set-up (the corpus then cannot synthesise those voices).
#     festival's English voices are reserved for independent evaluation: never install them here
#     (--no-install-recommends keeps festival from pulling one in).
fest_pkgs=(festival festival-ca festival-czech festvox-ca-ona-hts festvox-czech-dita
  festvox-italp16k festvox-itapc16k festvox-ru festvox-suopuhe-lj festvox-suopuhe-mv)
fest_voices=(catalan/upc_ca_ona_hts czech/czech_dita italian/lp_diphone italian/pc_diphone
  russian/msu_ru_nsh_clunits finnish/suo_fi_lj_diphone finnish/hy_fi_mv_diphone)
fest_missing=0
command -v text2wave >/dev/null 2>&1 || fest_missing=1
for v in "${fest_voices[@]}"; do [ -d "/usr/share/festival/voices/$v" ] || fest_missing=1; done
if [ "$fest_missing" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${fest_pkgs[@]}" >/dev/null; } 2>/dev/null \
      || echo "setup: festival voices not installed (offline?); the corpus needs them" >&2
  else
    echo "setup: please install: ${fest_pkgs[*]} (apt-get install --no-install-recommends)" >&2
  fi
fi

# 2. The venv. Skipped when nothing it depends on changed since the last successful run.
stamp=.venv/.voxref-setup-stamp
want=$(cat pyproject.toml scripts/constraints.txt scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python -c "import voxref" 2>/dev/null; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip_q() { .venv/bin/pip install -q --disable-pip-version-check "$@" 2>&1 | grep -v "is ignored: it is neither" || true; }
# torch FIRST and pinned: 2.13.0 is the local CPU wheel on these machines; any other spec makes pip
# fetch a multi-GB CUDA build. It is repeated below so the resolver keeps it.
pip_q torch==2.13.0
pip_q -c scripts/constraints.txt torch==2.13.0 -e ".[test,quality,ray]"
.venv/bin/python -c "import torch, voxref" >/dev/null

# 3. torchaudio from PyPI is a CUDA build: its compiled lib/*.so need libc10_cuda.so, which a CPU
#    torch does not have, so `import torchaudio` fails, and with it `import speechbrain` and
#    `import pyannote.audio`. Without those .so files torchaudio imports in pure-Python mode:
#    fbank/MFCC/resample work, torchaudio.load does not (voxref reads audio with soundfile).
ta_lib=$(.venv/bin/python - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("torchaudio")
print(pathlib.Path(list(spec.submodule_search_locations)[0]) / "lib" if spec else "")
PY
)
if [ -n "$ta_lib" ] && ls "$ta_lib"/*.so >/dev/null 2>&1; then
  if ! PYANNOTE_METRICS_ENABLED=false .venv/bin/python -c "import torchaudio" >/dev/null 2>&1; then
    rm -f "$ta_lib"/*.so
  fi
fi
PYANNOTE_METRICS_ENABLED=false .venv/bin/python -c "import torchaudio, speechbrain, pyannote.audio" 2>/dev/null \
  || { echo "setup: speechbrain / pyannote.audio do not import; see scripts/setup.sh" >&2; exit 1; }
echo "$want" > "$stamp"
echo "setup: done (.venv ready)" >&2

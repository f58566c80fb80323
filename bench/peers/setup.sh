#!/usr/bin/env bash
# Builds the peers' virtualenvs for bench/mmm_peers.py, outside the repository, from the pinned
# requirements beside this script: PyMC-Marketing 0.19 + nutpie, and Google Meridian (TensorFlow).
# Neither is a LiftOS dependency; nothing here touches .venv or constraints.txt.
#   bash bench/peers/setup.sh [FOLDER]   (default /work/peers; PYTHON=python3.11 to choose)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="${1:-/work/peers}"
python="${PYTHON:-python3}"
"$python" -c 'import sys; assert sys.version_info[:2] >= (3, 10), "Meridian needs Python >= 3.10"'
mkdir -p "$root"
for peer in pymc meridian; do
  if [ ! -x "$root/$peer/bin/python" ]; then
    "$python" -m venv "$root/$peer"
  fi
  "$root/$peer/bin/pip" install --quiet -r "$here/requirements-$peer.txt"
done
"$root/pymc/bin/python" -c 'import pymc_marketing, nutpie; print("pymc-marketing", pymc_marketing.__version__, "nutpie", nutpie.__version__)'
"$root/meridian/bin/python" -c 'import meridian, tensorflow as tf; print("google-meridian", meridian.__version__, "tensorflow", tf.__version__)' 2>/dev/null
echo "run: .venv/bin/python -m bench.mmm_peers --pymc-python $root/pymc/bin/python --meridian-python $root/meridian/bin/python"

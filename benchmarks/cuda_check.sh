#!/usr/bin/env bash
# The prepared GPU check of the cost targets: the training-step ratios (RCGM and TwinFlow over
# flow matching, EMA on and off) and the sampling ratios (1 NFE over a bare network call) on
# the digits U-Net (batch 64 and 512), the tiny SANA and Qwen-Image configs and SANA-0.6B at
# 512^2 (random weights, bf16 autocast, batch 32), then the targets read off them.
#
#   make gpu-kit                                   # here, once: wheels the GPU image lacks
#   bash benchmarks/cuda_check.sh [OUT_DIR]        # there; OUT_DIR defaults to $OUT, else
#                                                  # runs/bench_cuda
#   CHECK_DEVICE=cpu CHECK_NETWORKS=toy CHECK_QUICK=1 bash benchmarks/cuda_check.sh /tmp/r
#                                                  # a rehearsal on a CPU
#
# The GPU machine has python3 with torch, lightning, transformers and peft but nothing can be
# fetched there: the wheels in .whl/ (git-ignored; carry it) are installed into a folder of
# their own first. Five files come back: step_cost.{json,md}, sampling_cost.{json,md},
# targets.md. Expected to take about 5 minutes on one H100 (not yet run on one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-runs/bench_cuda}}
py=${PYTHON:-python3}
device=${CHECK_DEVICE:-cuda}
networks=${CHECK_NETWORKS:-digits sana qwen sana_600m}
quick=${CHECK_QUICK:+--quick}
repeats=${CHECK_REPEATS:-20}
mkdir -p "$out"
if compgen -G ".whl/*.whl" >/dev/null; then
  site=${CHECK_SITE:-/tmp/twinflow-site}
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
"$py" -c "
import sys
try:
    import diffusers, jsonargparse, lightning, torch
except ImportError as e:
    sys.exit(f'error: {e.name} is missing: run make gpu-kit where pip works and carry .whl/')
gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else 'no GPU'
print(f'torch {torch.__version__}, {gpu}, diffusers {diffusers.__version__}, '
      f'lightning {lightning.__version__}', flush=True)"
# shellcheck disable=SC2086  # the network list is words
"$py" benchmarks/step_cost.py --device "$device" --network $networks --repeats "$repeats" \
  $quick --out "$out"
# shellcheck disable=SC2086
"$py" benchmarks/sampling_cost.py --device "$device" --network $networks $quick --out "$out"
"$py" benchmarks/cost_targets.py "$out"

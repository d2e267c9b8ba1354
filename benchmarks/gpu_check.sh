#!/usr/bin/env bash
# The CUDA checks of issue 19 (benchmarks/gpu_check.py): float16 + GradScaler and bfloat16 train the example
# and skip an injected Inf; engine overhead beside a hand-written loop on the GPU (target <= 1.03x); host syncs
# per update under torch.cuda.set_sync_debug_mode("warn"). About 3-6 minutes on one GPU.
#
# torch: the project's pins (constraints.txt) install a CPU wheel, which cannot run these checks. This script
# uses the machine's preinstalled CUDA torch instead: it makes .venv-gpu with --system-site-packages over
# $PYTHON (default: python3, on the device machines the interpreter that holds PyTorch) and installs nothing
# from the network. Packages the project needs that the machine lacks (cattrs, ruamel.yaml, ruamel.yaml.clib)
# are installed from wheels in .gpu-wheels/ when that folder exists; make it on a machine with network access:
#   benchmarks/gpu_check.sh --download-wheels   (then carry .gpu-wheels along)
# It fails loudly (exit 2) when torch sees no CUDA device, and exits 1 when a check fails.
#
# Usage: benchmarks/gpu_check.sh [--repeats N] [--updates N]      output: a markdown report on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
NEEDED="cattrs==26.2.1 ruamel.yaml==0.19.1 ruamel.yaml.clib==0.2.15"

if [[ "${1:-}" == "--download-wheels" ]]; then
    # for the device image's CPython (3.12, x86-64 Linux); pure-Python wheels fit any version
    mkdir -p .gpu-wheels
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version "${GPU_PYTHON_VERSION:-3.12}" \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .gpu-wheels $NEEDED
    ls .gpu-wheels
    exit 0
fi

if ! "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "gpu_check: FAIL: $PYTHON has no CUDA-enabled torch or sees no GPU:" >&2
    "$PYTHON" -c 'import torch; print("  torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' >&2 || true
    echo "  run this on a machine with a GPU and a preinstalled CUDA torch (or set PYTHON to one)" >&2
    exit 2
fi

if [[ ! -x .venv-gpu/bin/python ]]; then
    "$PYTHON" -m venv --system-site-packages .venv-gpu
fi
VENV_PY=.venv-gpu/bin/python
if ! "$VENV_PY" -c 'import cattrs, ruamel.yaml, attrs, tensorboard' 2>/dev/null; then
    if [[ -d .gpu-wheels ]]; then
        "$VENV_PY" -m pip install --quiet --no-index --find-links .gpu-wheels $NEEDED
    else
        echo "gpu_check: FAIL: cattrs / ruamel.yaml missing and no .gpu-wheels/ to install them from" >&2
        echo "  (make it with: benchmarks/gpu_check.sh --download-wheels on a machine with network access)" >&2
        exit 2
    fi
fi
"$VENV_PY" -c 'import torch; assert torch.cuda.is_available(), "the venv lost the CUDA torch"'

echo "# gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
# the project runs from the checkout (PYTHONPATH), not installed: no build, no network
PYTHONPATH=. PYTHONUNBUFFERED=1 timeout 540 "$VENV_PY" benchmarks/gpu_check.py "$@"

#!/usr/bin/env bash
# The CUDA checks of issue 19 (benchmarks/gpu_check.py): float16 + GradScaler and bfloat16 train the example
# and skip an injected Inf; engine overhead beside a hand-written loop on the GPU (target <= 1.03x); host syncs
# per update under torch.cuda.set_sync_debug_mode("warn"). About 3-6 minutes on one GPU.
#
# torch: the project's pins (constraints.txt) install a CPU wheel, which cannot run these checks. This script
# uses the machine's preinstalled CUDA torch instead: $PYTHON, or else the first of python3 and
# /opt/*/.venv/bin/python3 whose torch sees a GPU. It installs nothing from the network: packages the project
# needs that the machine lacks (attrs, cattrs, ruamel.yaml and their needs) are unpacked from the wheels in
# .gpu-wheels/ into .gpu-site/ (put first on PYTHONPATH). Make that folder on a machine with network access:
#   benchmarks/gpu_check.sh --download-wheels   (then carry .gpu-wheels along)
# It fails loudly (exit 2) when no interpreter's torch sees a CUDA device, and exits 1 when a check fails.
#
# Usage: benchmarks/gpu_check.sh [--repeats N] [--updates N]      output: a markdown report on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
NEEDED="attrs==26.1.0 cattrs==26.2.1 ruamel.yaml==0.19.1 ruamel.yaml.clib==0.2.15 typing_extensions==4.15.0"
sees_gpu() { "$1" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; }

if [[ "${1:-}" == "--download-wheels" ]]; then
    # for the device image's CPython (3.12, x86-64 Linux); pure-Python wheels fit any version
    mkdir -p .gpu-wheels
    "${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: --python-version "${GPU_PYTHON_VERSION:-3.12}" \
        --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 -d .gpu-wheels $NEEDED
    ls .gpu-wheels
    exit 0
fi

if [[ -z "${PYTHON:-}" ]]; then
    for candidate in python3 /opt/*/.venv/bin/python3; do
        if command -v "$candidate" >/dev/null && sees_gpu "$candidate"; then PYTHON=$candidate; break; fi
    done
fi
if [[ -z "${PYTHON:-}" ]] || ! sees_gpu "$PYTHON"; then
    echo "gpu_check: FAIL: no interpreter here has a CUDA-enabled torch that sees a GPU (tried ${PYTHON:-python3 and /opt/*/.venv/bin/python3})" >&2
    echo "  run this on a machine with a GPU and a preinstalled CUDA torch (or set PYTHON to one)" >&2
    exit 2
fi

if ! "$PYTHON" -c 'import cattrs, ruamel.yaml, attrs, tensorboard' 2>/dev/null || [[ -d .gpu-wheels ]]; then
    if [[ -d .gpu-wheels ]]; then
        "$PYTHON" -m pip install --quiet --upgrade --no-index --no-deps --no-compile --target .gpu-site .gpu-wheels/*.whl
    else
        echo "gpu_check: FAIL: cattrs / ruamel.yaml missing and no .gpu-wheels/ to install them from" >&2
        echo "  (make it with: benchmarks/gpu_check.sh --download-wheels on a machine with network access)" >&2
        exit 2
    fi
fi

echo "# gpu_check $(date -u +%Y-%m-%dT%H:%M:%SZ) at $(git rev-parse --short HEAD 2>/dev/null || echo '?') with $PYTHON"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || true
# the project runs from the checkout (PYTHONPATH), not installed: no build, no network
PYTHONPATH=.gpu-site:.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 timeout 540 "$PYTHON" benchmarks/gpu_check.py "$@"

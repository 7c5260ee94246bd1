#!/usr/bin/env bash
# Everything a short lease on a GPU machine is for, in one command, from the repository root:
#   bash benchmarks/gpu_session.sh [WHEELS]
# 1. the GPU, its driver and the Python packages found there;
# 2. WHEELS (a folder of wheels for the packages that machine lacks, e.g. openpyxl) installed
#    offline into a scratch folder on PYTHONPATH, when given;
# 3. every case of the CUDA tests (tests/montecarlo/cuda_sim_runs.py) on the real GPU against
#    the CPU backend: the largest relative differences per case, 1e-9 being the bar;
# 4. benchmarks/gpu_speed.py: its own check, then the timings.
# GPU_SPEED_ARGS and CUDA_CASES_ITERATIONS shrink both for a trial under NUMBA_ENABLE_CUDASIM=1.
# Output goes to stdout and, as files, to $OUT (a scratch folder when unset).
set -u
OUT=${OUT:-$(mktemp -d)}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
if [ -n "${1:-}" ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/gpu-session-site "$1"/*.whl || exit 1
    export PYTHONPATH=/tmp/gpu-session-site
fi
"$PY" - <<'EOF' || exit 1
import importlib, sys
print("Python", sys.version.split()[0])
for name in ("numpy", "scipy", "numba", "numba_cuda", "llvmlite", "openpyxl", "pyarrow"):
    try:
        print(f"  {name} {importlib.import_module(name).__version__}")
    except Exception as exc:
        print(f"  {name}: {type(exc).__name__}: {exc}")
EOF

CUDA_CASES_ITERATIONS=${CUDA_CASES_ITERATIONS:-65536} timeout 200 "$PY" -m tests.montecarlo.cuda_sim_runs >"$OUT/cases.json" 2>"$OUT/cases.err"
echo "CUDA test cases on this GPU: exit $?"
tail -5 "$OUT/cases.err"
"$PY" - "$OUT/cases.json" <<'EOF'
import json, sys
try:
    cases = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit("no results")
for case, runs in cases.items():
    for sampling, run in (runs.items() if "samples" not in runs else [("", runs)]):
        if isinstance(run, dict) and "samples" in run:
            worst = max(run[k] for k in ("samples", "outputs", "stats") if k in run)
            print(f"  {case}/{sampling}: device {run.get('device')}, largest relative "
                  f"difference {worst:.1e}, error codes equal {run.get('errors_equal')}")
EOF

# shellcheck disable=SC2086  # GPU_SPEED_ARGS: several words on purpose
timeout 330 "$PY" benchmarks/gpu_speed.py ${GPU_SPEED_ARGS:-} 2>&1 | tee "$OUT/gpu_speed.txt"

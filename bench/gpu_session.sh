#!/usr/bin/env bash
# The GPU checks of issue 6 (item 7) in one device call, about 8 minutes on an H200:
#   1. bench/gpu_memory.py: measured peak memory of the six study architectures (batch 8 and 128,
#      plus the anchors' mixed_bfloat16 rows) against the estimate, 4 processes at once;
#   2. bench/gpu_sweep.py: the `seed` space (24 configurations) on gcompris, at most 10 epochs each
#      (the documented subset), GPU shares from the estimates: GPU-busy fraction, img/s per trial,
#      estimated vs measured peaks, trials at once. Since issue 17 GPU trials reuse worker processes
#      (one per GPU-share slot, Ray hands a worker only to trials of its share) and a reused worker
#      trains the model its last trial left when the structure matches: the table's "worker
#      processes" row and the first-epoch median show what that saves against the figures before.
#   3. the same sweep again with XLA's autotuning off (XLA_FLAGS=--xla_gpu_autotune_level=0): on the
#      first GPU run (2026-11-30) a trial's first epoch took 39 s against 0.3 s for later ones; this
#      says how much of that is autotuning, and what the kernels it picks are worth (img/s per trial).
#
# Prepare on the development machine, test it there (`GPU_SESSION_REHEARSAL=1 bash bench/gpu_session.sh`
# runs all three steps on CPU with tiny settings), then run it on the device:
#   bash ../shared/device/make-gpu-bundle.sh && .venv/bin/python bench/prepare_gpu_data.py
#   run: carry [".gpu"], command "source .gpu/env.sh; bash bench/gpu_session.sh", timeout_s 590
# Results land in $OUT (the device call brings them back): *.md tables, *.json, logs, trial records.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-bench/results/gpu-session}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
STORE=$(mktemp -d)  # run directories (checkpoints are big): only their records are copied to $OUT
DATA=${GPU_SESSION_DATA:-.gpu/data/gcompris}

{
    date -u +%FT%TZ
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
    "$PY" -c "import keras, ray, optuna; print('keras', keras.__version__, keras.backend.backend(), '| ray', ray.__version__, '| optuna', optuna.__version__)" 2>&1
    "$PY" -c "import jax; print('jax', jax.__version__, jax.devices())" 2>&1
} > "$OUT/environment.txt"
cat "$OUT/environment.txt"

if [ -n "${GPU_SESSION_REHEARSAL:-}" ]; then  # CPU rehearsal: the same code paths, tiny settings
    export COLORSWEEP_GPU_MEMORY=${COLORSWEEP_GPU_MEMORY:-80GiB}
    MEMORY_ARGS=(--arch basic --batch-size 8 --steps 2 --no-extras --parallel 2)
    SWEEP_ARGS=(--space smoke --data demo --size 16 --max-epochs 1 --trials 3 --gpus 0 --cpus-per-trial 1)
    MEMORY_LIMIT=300; SWEEP_LIMIT=400; SWEEP2_LIMIT=400
else
    MEMORY_ARGS=(--parallel 4 --steps 8 --timeout 150)
    SWEEP_ARGS=(--space seed --data "$DATA" --max-epochs 10 --cpus-per-trial 2)
    MEMORY_LIMIT=170; SWEEP_LIMIT=210; SWEEP2_LIMIT=190  # typical (2026-11-30): about 115 s, 165 s, 165 s
fi

echo "== 1/3 peak memory: measured vs estimated"
timeout "$MEMORY_LIMIT" "$PY" bench/gpu_memory.py "${MEMORY_ARGS[@]}" --out "$OUT/gpu_memory.md" \
    > "$OUT/gpu_memory.log" 2>&1
echo "exit $?"; tail -n 25 "$OUT/gpu_memory.log"

echo "== 2/3 sweep: GPU-busy fraction, img/s, packing"
timeout "$SWEEP_LIMIT" "$PY" bench/gpu_sweep.py "${SWEEP_ARGS[@]}" --storage "$STORE" --out "$OUT/gpu_sweep.md" \
    > "$OUT/gpu_sweep.log" 2>&1
code=$?
echo "exit $code"; tail -n 30 "$OUT/gpu_sweep.log"
if [ "$code" != 0 ]; then  # cut short: analyse what the sweep recorded so far
    for run in "$STORE"/*/; do
        [ -f "$run/sweep.json" ] && "$PY" bench/gpu_sweep.py --run-dir "$run" --out "$OUT/gpu_sweep_partial.md" \
            > "$OUT/gpu_sweep_partial.log" 2>&1 && cat "$OUT/gpu_sweep_partial.md"
        break  # the first (only) run directory so far
    done
fi
echo "== 3/3 the same sweep, XLA autotuning off: how much of the first epoch is autotuning"
XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_autotune_level=0" timeout "$SWEEP2_LIMIT" "$PY" bench/gpu_sweep.py "${SWEEP_ARGS[@]}" \
    --storage "$STORE" --out "$OUT/gpu_sweep_autotune0.md" > "$OUT/gpu_sweep_autotune0.log" 2>&1
echo "exit $?"; tail -n 22 "$OUT/gpu_sweep_autotune0.log"
# the sweeps' records (no checkpoints) for later analysis
(cd "$STORE" && find . \( -name sweep.json -o -name trials.json -o -name baselines.json -o -name result.json \
    -o -name error.txt \) -print0 | tar czf - --null -T - ) > "$OUT/sweep-records.tgz" 2>/dev/null
rm -rf "$STORE"
# a device call brings back at most 8 files: the logs and JSON travel as one archive
(cd "$OUT" && tar czf logs.tgz --remove-files ./*.log ./*.json 2>/dev/null)
ls "$OUT"

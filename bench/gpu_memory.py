"""Benchmark: measured peak GPU memory against colorsweep's estimate (search.memory), on a GPU.

Each configuration runs in a fresh Python process, like the anchors in shared/design/anchors.md:
build the model, compile (Adam + MSE, jit), ``model.fit`` two epochs on random 128x128 inputs, then
read the allocator's peak (JAX: ``peak_bytes_in_use``; TensorFlow: ``get_memory_info("GPU:0")["peak"]``).

    KERAS_BACKEND=jax .venv/bin/python bench/gpu_memory.py                  # the anchors' 12 rows + bf16
    KERAS_BACKEND=jax .venv/bin/python bench/gpu_memory.py --arch classic --batch-size 8 32 128 \
        --precision float32 mixed_bfloat16

Prints a Markdown table (also written to ``bench/results/gpu_memory.md``): measured GiB, estimated
GiB, error. Refuses to run without a GPU (there is nothing to measure on CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
STUDY = ("basic", "classic", "conv_sampling", "large_kernel", "richard_zhang", "split_learning")


def _child(arch: str, size: int, batch_size: int, precision: str, steps: int) -> None:
    import keras
    import numpy as np

    from colorize_core._backend import accelerator_peak_memory_bytes
    from colorize_core.models import create_model
    from colorize_core.optimizers import get_optimizer

    keras.mixed_precision.set_global_policy(precision)
    model = create_model(arch, size)
    model.compile(optimizer=get_optimizer("adam", learning_rate=1e-3), loss="mse", jit_compile=True)
    rng = np.random.default_rng(0)
    n = batch_size * steps
    x = rng.random((n, size, size, 1), dtype=np.float32)
    y = rng.random((n, size, size, 2), dtype=np.float32)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)  # warm-up: compile, autotune
    warm = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    done = time.perf_counter()
    print(json.dumps({"peak": accelerator_peak_memory_bytes(), "img_s": n / (done - warm),
                      "compile_s": warm - start}))


def _measure(arch, size, batch_size, precision, steps, timeout) -> dict:
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    command = [sys.executable, __file__, "--child", arch, str(size), str(batch_size), precision, str(steps)]
    try:
        out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout}s"}
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode or not lines:
        tail = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"error": ("out of memory: " if "RESOURCE_EXHAUSTED" in out.stderr else "") + tail[:200]}
    return json.loads(lines[-1])


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], int(sys.argv[6]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=list(STUDY))
    parser.add_argument("--batch-size", nargs="+", type=int, default=[8, 128])
    parser.add_argument("--precision", nargs="+", default=["float32"])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=8, help="training steps per epoch")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per configuration")
    parser.add_argument("--no-extras", action="store_true", help="skip the anchors' mixed_bfloat16 rows")
    parser.add_argument("--parallel", type=int, default=1,
                        help="configurations measured at once, each in its own process (peaks are per "
                             "process and stay exact; img/s is then shared and only indicative)")
    parser.add_argument("--out", default=str(RESULTS / "gpu_memory.md"), help="Markdown table written here")
    args = parser.parse_args(argv)

    from search.memory import ANCHOR_EXTRAS, ANCHORS, detect_gpu_memory, estimate_memory

    if detect_gpu_memory() is None:
        print("no GPU found (nvidia-smi): nothing to measure", file=sys.stderr)
        return 2
    cases = [(a, args.size, bs, p) for a in args.arch for p in args.precision for bs in args.batch_size]
    if not args.no_extras and args.size == 128:
        cases += [(a, s, bs, p) for a, s, bs, p, _ in ANCHOR_EXTRAS if p and (a, s, bs, p) not in cases]
    from concurrent.futures import ThreadPoolExecutor

    def measure(case):
        arch, size, bs, precision = case
        return _measure(arch, size, bs, precision or "float32", args.steps, args.timeout)

    rows = []
    with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
        for (arch, size, bs, precision), got in zip(cases, pool.map(measure, cases)):
            est = estimate_memory(arch, size=size, batch_size=bs, precision=precision)
            measured = got.get("peak") / 2**30 if got.get("peak") else None
            anchor = ANCHORS.get(arch, {}).get(bs) if size == 128 and precision in (None, "float32") else None
            anchor = anchor or next((g for a, s, b, p, g in ANCHOR_EXTRAS
                                     if (a, s, b, p) == (arch, size, bs, precision)), None)
            rows.append({"arch": arch, "size": size, "batch": bs, "precision": precision or "float32",
                         "measured": measured, "estimate": est.gib, "anchor": anchor,
                         "error": (est.gib / measured - 1) if measured else None,
                         "img_s": got.get("img_s"), "note": got.get("error", "")})
            print(rows[-1], file=sys.stderr, flush=True)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    lines = [f"Peak GPU memory, measured (Keras on {backend}, fresh process per row, Adam + MSE, jit, "
             f"{args.steps} steps after a warm-up epoch, {args.parallel} process(es) at once) against colorsweep's "
             f"estimate.", "",
             "| arch | size | batch | precision | measured GiB | estimate GiB | error | anchor GiB | img/s | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def f(v, spec):
            return format(v, spec) if v is not None else "–"
        lines.append(f"| {r['arch']} | {r['size']} | {r['batch']} | {r['precision']} | {f(r['measured'], '.2f')} | "
                     f"{r['estimate']:.2f} | {f(r['error'] and 100 * r['error'], '+.0f')} % | "
                     f"{f(r['anchor'], '.1f')} | "
                     f"{f(r['img_s'], ',.0f')} | {r['note']} |")
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

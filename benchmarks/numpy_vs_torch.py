"""How much slower is dlbook.numpy than torch on the CPU? Forward plus backward.

    python benchmarks/numpy_vs_torch.py [--repeats 20] [--warmup 3] [--rounds 5]
                                        [--cases conv,mlp,lstm,attention]
                                        [--json results.json]

Each (case, side) runs in its own child process with one thread: the child's
environment sets OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to
1 before numpy or torch is imported (BLAS reads them once, at import), and the
torch side also calls ``torch.set_num_threads(1)``. So the ratio compares the
two implementations, not how many cores each happened to grab. Everything is
float32; each child reports the median of ``--repeats`` timed iterations after
``--warmup`` untimed ones. The two sides alternate for ``--rounds`` rounds (a
fresh child each time) and each side keeps its fastest median, so a burst of
load from other programs on a shared machine does not decide the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# name: (description, target ratio numpy / torch)
CASES = {
    "conv": ("Conv2d N=32 16->32 ch 32x32 3x3 pad 1", 3.0),
    "mlp": ("MLP step 784-256-256-10 batch 128 (+loss, SGD)", 1.5),
    "lstm": ("LSTM T=32 N=32 64->128", 3.0),
    "attention": ("self-attention N=16 L=64 E=128 4 heads", 2.0),
}
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


# ---------------------------------------------------------------------------
# Workers: each returns a zero-argument function doing one forward + backward.
# They import numpy / torch lazily, inside the child process.
# ---------------------------------------------------------------------------
def _numpy_case(case):
    import numpy as np

    from dlbook.numpy import nn as npnn

    rng = np.random.default_rng(0)
    f32 = np.float32

    def randn(*shape):
        return rng.standard_normal(shape).astype(f32)

    note = ""
    if case == "conv":
        layer = npnn.Conv2d(16, 32, 3, padding=1)
        x, g = randn(32, 16, 32, 32), randn(32, 32, 32, 32)

        def step():
            layer(x)
            layer.backward(g)
    elif case == "mlp":
        model = npnn.Sequential(npnn.Linear(784, 256), npnn.ReLU(), npnn.Linear(256, 256),
                              npnn.ReLU(), npnn.Linear(256, 10))
        loss_fn = npnn.CrossEntropyLoss()
        x, y = randn(128, 784), rng.integers(0, 10, size=128)
        try:
            from dlbook.numpy.optim import SGD

            opt = SGD(model.parameters(), lr=0.01)
            update = opt.step
        except ImportError:  # optim not written yet: the same update by hand
            note = "SGD by hand (dlbook.numpy.optim.SGD missing)"
            params = list(model.parameters())

            def update():
                for p in params:
                    p.data -= 0.01 * p.grad

        def step():
            model.zero_grad()
            loss_fn(model(x), y)
            model.backward(loss_fn.backward())
            update()
    elif case == "lstm":
        layer = npnn.LSTM(64, 128)
        x, g = randn(32, 32, 64), randn(32, 32, 128)  # (T, N, I), (T, N, H)

        def step():
            layer(x)
            layer.backward(g)
    elif case == "attention":
        layer = npnn.MultiheadAttention(128, 4, batch_first=True)
        x, g = randn(16, 64, 128), randn(16, 64, 128)

        def step():
            layer(x, x, x)
            dq, dk, dv = layer.backward(g)
            return dq + dk + dv  # self-attention: the three uses of x add up
    else:
        raise ValueError(case)
    return step, note


def _torch_case(case):
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)

    def randn(*shape, grad=False):
        return torch.randn(*shape, requires_grad=grad)

    if case == "conv":
        layer = torch.nn.Conv2d(16, 32, 3, padding=1)
        x, g = randn(32, 16, 32, 32, grad=True), randn(32, 32, 32, 32)

        def step():
            layer(x).backward(g)
    elif case == "mlp":
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
            torch.nn.ReLU(), torch.nn.Linear(256, 10))
        loss_fn = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        x, y = randn(128, 784), torch.randint(0, 10, (128,))

        def step():
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
    elif case == "lstm":
        layer = torch.nn.LSTM(64, 128)
        x, g = randn(32, 32, 64, grad=True), randn(32, 32, 128)

        def step():
            layer(x)[0].backward(g)
    elif case == "attention":
        layer = torch.nn.MultiheadAttention(128, 4, batch_first=True)
        x, g = randn(16, 64, 128, grad=True), randn(16, 64, 128)

        def step():
            layer(x, x, x)[0].backward(g)  # need_weights=True, the default
    else:
        raise ValueError(case)
    return step, ""


def worker(case, side, repeats, warmup):
    """Runs in the child: time one case on one side, print one JSON line."""
    try:
        step, note = (_numpy_case if side == "numpy" else _torch_case)(case)
    except (ImportError, AttributeError) as e:  # a layer not written yet
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return
    threads = _threads_in_use(side)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"ms": 1000 * statistics.median(times), "note": note,
                      "threads": threads}))


def _threads_in_use(side):
    """What the child really got: BLAS/OpenMP pools (threadpoolctl, a
    scikit-learn dependency, if present) and torch's intra-op threads."""
    out = {}
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            out[f"{pool['internal_api']}"] = pool["num_threads"]
    except ImportError:
        pass
    if side == "torch":
        import torch

        out["torch"] = torch.get_num_threads()
    return out


# ---------------------------------------------------------------------------
# Parent: one child per (case, side), then the table.
# ---------------------------------------------------------------------------
def run_child(case, side, repeats, warmup):
    env = dict(os.environ)
    env.update({v: "1" for v in THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                      env.get("PYTHONPATH", "")]))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", case, side,
           "--repeats", str(repeats), "--warmup", str(warmup)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"child failed: {last}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternate numpy/torch children this often; keep the best")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated subset of {','.join(CASES)}")
    ap.add_argument("--json", metavar="PATH", help="also write the results here")
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "SIDE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(*args.worker, args.repeats, args.warmup)
        return 0

    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown case(s) {unknown}; choose from {list(CASES)}")

    rows = []
    header = (f"{'case':<48} {'numpy ms':>9} {'torch ms':>9} {'ratio':>6} "
              f"{'target':>7}  result")
    print("dlbook.numpy vs torch (CPU, 1 thread, float32, forward + backward, "
          f"median of {args.repeats}, best of {args.rounds} rounds)")
    print(header)
    print("-" * len(header))
    for case in cases:
        desc, target = CASES[case]
        res, rounds = {}, {"numpy": [], "torch": []}
        for _ in range(max(args.rounds, 1)):
            for side in ("numpy", "torch"):
                r = run_child(case, side, args.repeats, args.warmup)
                if "ms" in r:
                    rounds[side].append(r["ms"])
                if side not in res or r.get("ms", float("inf")) < res[side].get(
                        "ms", float("inf")):
                    res[side] = r  # the fastest median so far
            if any("error" in r for r in res.values()):
                break  # a missing layer will not appear in the next round
        row = {"case": case, "description": desc, "target": target,
               "numpy_ms": res["numpy"].get("ms"), "torch_ms": res["torch"].get("ms"),
               "numpy_rounds_ms": rounds["numpy"], "torch_rounds_ms": rounds["torch"],
               "numpy_threads": res["numpy"].get("threads"),
               "torch_threads": res["torch"].get("threads")}
        errors = [f"{s}: {r['error']}" for s, r in res.items() if "error" in r]
        if errors:
            row.update(ratio=None, result="N/A", error="; ".join(errors))
            print(f"{desc:<48} {'-':>9} {'-':>9} {'-':>6} {target:>6.1f}x  N/A "
                  f"({row['error']})")
        else:
            ratio = row["numpy_ms"] / row["torch_ms"]
            row.update(ratio=ratio, result="PASS" if ratio <= target else "MISS")
            note = res["numpy"].get("note")
            if note:
                row["note"] = note
            print(f"{desc:<48} {row['numpy_ms']:>9.2f} {row['torch_ms']:>9.2f} "
                  f"{ratio:>5.2f}x {target:>6.1f}x  {row['result']}"
                  + (f"  ({note})" if note else ""))
        rows.append(row)
    if args.json:
        meta = {"repeats": args.repeats, "warmup": args.warmup, "rounds": args.rounds,
                "threads": 1,
                "dtype": "float32", "python": sys.version.split()[0]}
        Path(args.json).write_text(json.dumps({"meta": meta, "results": rows},
                                              indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A script for ``torchrun``: the same ``fit`` call as in one process.

    torchrun --nproc_per_node=2 tests/distributed_worker.py OUT_DIR [fail]

Each rank sends its stderr (where the progress bar goes) to OUT_DIR/stderr<rank>,
saves what it returned to OUT_DIR/rank<rank>.pt, and with ``fail`` rank 1 raises
in its second epoch. tests/test_distributed.py runs it and compares with
:func:`train_once` run in one process.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch
from torch import nn

N_TRAIN, N_VAL, BATCH, EPOCHS, SEED = 193, 61, 64, 3, 0  # last batch: 1 sample


def data():
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(N_TRAIN + N_VAL, 8))  # float64, as NumPy makes it
    y = (X[:, :3].sum(1) > 0).astype(np.int64) + (X[:, 3] > 1)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def model():
    torch.manual_seed(SEED)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))


def train_once(progress=False, loss_fn=None):
    from dlbook.torch import fit

    X, y, Xv, yv = data()
    net = model()
    history = fit(net, (X, y), (Xv, yv), epochs=EPOCHS, batch_size=BATCH, lr=1e-2,
                  seed=SEED, device="cpu", progress=progress, loss_fn=loss_fn)
    return net, history


def main(out: str, fail: bool) -> None:
    import torch.distributed as dist
    import torch.nn.functional as F

    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    sys.stderr = open(os.path.join(out, f"stderr{rank}"), "w", buffering=1)
    calls = [0]

    def loss_fn(out, y):
        calls[0] += 1
        if fail and rank == 1 and calls[0] == 6:  # the second epoch (4 batches each)
            raise ValueError("a data error on rank 1")
        return F.cross_entropy(out, y)

    net, history = train_once(progress=True, loss_fn=loss_fn)
    torch.save({"state": net.state_dict(), "history": history.records,
                "initialized_after": dist.is_initialized()},
               os.path.join(out, f"rank{rank}.pt"))
    print(f"rank {rank} finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], fail=len(sys.argv) > 2 and sys.argv[2] == "fail")

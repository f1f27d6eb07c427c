"""Data parallelism for :func:`dlbook.torch.fit` when ``torchrun`` starts it.

``torchrun --nproc_per_node=N script.py`` starts N copies of the script and
tells each one who it is through environment variables:

* ``WORLD_SIZE``: N, the number of processes (ranks) in all;
* ``RANK``: this process's number, 0 to N - 1 over all machines;
* ``LOCAL_RANK``: its number on this machine, which picks its GPU;
* ``MASTER_ADDR`` and ``MASTER_PORT``: where the ranks meet (the rendezvous).

``fit`` reads them through :func:`process_group`: it joins the process group
(gloo on the CPU, nccl on CUDA) and leaves it at the end. :class:`Ranks` then
gives each rank its share of every global batch (:meth:`Ranks.share`), weights
the rank's loss so that the average DistributedDataParallel takes equals the
one-process gradient, and sums metrics over ranks (:meth:`Ranks.sum`).
``torch.distributed`` does all the communication.

The time a rank waits for the others before it gives up is
``DLBOOK_DIST_TIMEOUT`` seconds (default 600): a rank whose partner died
raises an error instead of hanging.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["Ranks", "process_group", "launched_by_torchrun", "is_main_process",
           "ENV_TIMEOUT"]

ENV_TIMEOUT = "DLBOOK_DIST_TIMEOUT"


def launched_by_torchrun() -> bool:
    """True in a process that ``torchrun`` started with more than one rank."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_main_process() -> bool:
    """True on rank 0 (and in a single process): the one that prints and saves."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return int(os.environ.get("RANK", "0")) == 0


def _rows(obj, start: int, stop: int):
    """Rows start:stop of a tensor, or of every tensor in a tuple or list."""
    if isinstance(obj, Tensor):
        return obj[start:stop]
    if isinstance(obj, (tuple, list)):
        return type(obj)(_rows(o, start, stop) for o in obj)
    return obj


@dataclass
class Ranks:
    """Who this process is among the ranks, and the few collectives fit needs.

    One process is ``Ranks(0, 1, device)``: every method is then the identity.
    """

    rank: int
    world_size: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        """``DistributedDataParallel(model)``: replicas start from rank 0's
        weights, and backward averages the gradients over ranks."""
        if not self.distributed:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def share(self, x, y, n: int):
        """This rank's rows of a global batch of ``n`` samples.

        Rank r takes rows ``r*n//W`` to ``(r+1)*n//W``: the shares differ by at
        most one row, and together they are the whole batch, in order. Returns
        ``(x, y, rows, weight)``. DDP averages the ranks' gradients; multiplying
        rank r's mean loss by ``weight = W * rows / n`` turns that average into
        the mean over the global batch, which is the one-process gradient even
        when the shares are unequal. A rank with no rows (a last batch smaller
        than W) still runs a forward and backward pass, on one borrowed row with
        weight 0, because DDP's all-reduce needs every rank.
        """
        if not self.distributed:
            return x, y, n, 1.0
        start = self.rank * n // self.world_size
        stop = (self.rank + 1) * n // self.world_size
        rows = stop - start
        if rows == 0:
            return _rows(x, 0, 1), _rows(y, 0, 1), 0, 0.0
        return (_rows(x, start, stop), _rows(y, start, stop), rows,
                self.world_size * rows / n)

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over ranks (in float64), the same on every rank."""
        if not self.distributed:
            return list(values)
        on = self.device if self.device.type == "cuda" else torch.device("cpu")
        t = torch.tensor(values, dtype=torch.float64, device=on)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def broadcast(self, obj):
        """Rank 0's ``obj`` (any picklable value) on every rank."""
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _timeout() -> datetime.timedelta:
    return datetime.timedelta(seconds=float(os.environ.get(ENV_TIMEOUT, "600")))


def _lost_contact(err: BaseException) -> bool:
    """Does this error come from a collective whose partner went away?"""
    if isinstance(err, getattr(dist, "DistError", ())):
        return True
    text = str(err)
    return any(s in text for s in ("Connection closed by peer", "Connection reset",
                                    "gloo", "Gloo", "NCCL", "timed out", "Timeout"))


@contextlib.contextmanager
def process_group(dev: torch.device, who: str = "fit") -> Iterator[Ranks]:
    """Join the process group that torchrun's environment describes, and leave it.

    Outside torchrun (``WORLD_SIZE`` unset or 1) this yields ``Ranks(0, 1, dev)``
    and does nothing. Under torchrun it joins with gloo (CPU) or nccl (CUDA,
    one GPU per rank: ``cuda:LOCAL_RANK``) unless the caller has already joined,
    and leaves at the end only a group it joined itself. An error on one rank
    is raised there with the rank named; the other ranks, whose collectives
    lose their partner, raise an error that says so instead of hanging.
    """
    if not launched_by_torchrun():
        yield Ranks(0, 1, dev)
        return
    if not dist.is_available():
        raise RuntimeError(f"{who}: WORLD_SIZE > 1 but this torch build has no "
                           "torch.distributed")
    if dev.type == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    owner = not dist.is_initialized()
    if owner:
        backend = "nccl" if dev.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=_timeout())
    ranks = Ranks(dist.get_rank(), dist.get_world_size(), dev)
    where = f"rank {ranks.rank} of {ranks.world_size}"
    try:
        yield ranks
        if owner:
            dist.barrier()  # every rank is done before any one leaves
    except Exception as err:
        if _lost_contact(err):
            raise RuntimeError(
                f"{who} ({where}): lost contact with the other ranks during a "
                f"collective ({str(err).strip().splitlines()[0][:200]}). Another "
                "rank probably failed first: its error is printed above. If a rank "
                f"is merely slow, raise {ENV_TIMEOUT} (seconds, now "
                f"{_timeout().total_seconds():g})."
            ) from err
        err.add_note(f"(raised on {where} under torchrun)")
        raise
    finally:
        if owner and dist.is_initialized():
            dist.destroy_process_group()

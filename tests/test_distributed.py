"""fit under torchrun: 2 CPU processes (gloo) against one process.

The same ``fit`` call (tests/distributed_worker.py) runs once under
``torchrun --nproc_per_node=2`` and once here in one process; the weights must
agree to float32 rounding, every rank must return the same history, only rank 0
may show the progress bar, and the process group must be gone afterwards. A
second launch makes rank 1 fail mid-epoch: both ranks must stop with clear
errors, long before any timeout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dlbook.torch import distributed

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "distributed_worker.py"
# A rank whose partner died would wait DIST_TIMEOUT seconds in its collective;
# a launch still running after HANG (< DIST_TIMEOUT) seconds has hung. An honest
# launch takes about 10 s on an idle 2-core machine.
DIST_TIMEOUT, HANG = 600, 400


def torchrun(out: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    """Run the worker on 2 CPU processes; kill the whole launch if it hangs."""
    env = dict(os.environ, OMP_NUM_THREADS="1", DLBOOK_DIST_TIMEOUT=str(DIST_TIMEOUT),
               PYTHONPATH=os.pathsep.join([str(ROOT),
                                           os.environ.get("PYTHONPATH", "")]))
    env.pop("DLBOOK_SEED", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node=2", str(WORKER), str(out), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks
        proc.communicate()
        pytest.fail(f"torchrun did not finish in {HANG} s: a hang")
    done = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    return done, time.perf_counter() - start


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    run, seconds = torchrun(out)
    assert run.returncode == 0, run.stderr[-3000:]
    return out, run, seconds


def test_two_processes_train_the_weights_of_one(two_ranks):
    sys.path.insert(0, str(WORKER.parent))
    import distributed_worker as worker

    out, run, seconds = two_ranks
    torch.set_num_threads(1)
    net, history = worker.train_once()
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    one = net.state_dict()
    diff = max((one[k] - ranks[0]["state"][k]).abs().max().item() for k in one)
    print(f"2 ranks vs 1 process: max |weight difference| {diff:.2g}, "
          f"torchrun took {seconds:.1f} s")
    assert diff < 1e-5  # float32 rounding: the sums run in another order
    # replicas stay identical, and every rank returns the same history
    assert all(torch.equal(ranks[0]["state"][k], ranks[1]["state"][k]) for k in one)
    assert ranks[0]["history"] == ranks[1]["history"]
    # the metrics are averaged over all samples, as in one process
    for mine, theirs in zip(history.records, ranks[0]["history"]):
        for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert theirs[k] == pytest.approx(mine[k], rel=1e-5), k
    assert len(history) == len(ranks[0]["history"]) == worker.EPOCHS


def test_only_rank_0_shows_progress_and_the_group_is_torn_down(two_ranks):
    out, run, _ = two_ranks
    bar = (out / "stderr0").read_text()
    assert "epoch 3/3" in bar and "12/12" in bar  # per batch, all 12 batches
    assert (out / "stderr1").read_text() == ""
    assert "rank 0 finished" in run.stdout and "rank 1 finished" in run.stdout
    for r in (0, 1):
        assert torch.load(out / f"rank{r}.pt")["initialized_after"] is False


def test_an_error_on_one_rank_stops_both_with_clear_errors(tmp_path):
    run, _ = torchrun(tmp_path, "fail")  # fails the test if it hangs
    assert run.returncode != 0
    rank1 = (tmp_path / "stderr1").read_text()
    assert "ValueError: a data error on rank 1" in rank1
    assert "raised on rank 1 of 2" in rank1
    # rank 0 either explains that it lost its partner, or torchrun stopped it
    rank0 = (tmp_path / "stderr0").read_text()
    assert "lost contact with the other ranks" in rank0 or "SIGTERM" in run.stderr
    assert not (tmp_path / "rank0.pt").exists()


# ------------------------------------------------------------ in one process


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shares_cover_every_global_batch_once(world):
    for n in range(1, 11):
        x = torch.arange(n)
        shares = [distributed.Ranks(r, world, torch.device("cpu")).share(x, x, n)
                  for r in range(world)]
        taken = torch.cat([s[0] for s in shares if s[2]])
        assert torch.equal(taken, x)  # in order, each sample once
        assert [len(s[0]) for s in shares if s[2]] == [s[2] for s in shares if s[2]]
        assert max(s[2] for s in shares) - min(s[2] for s in shares) <= 1
        assert sum(s[3] for s in shares) == pytest.approx(world)


def test_weighted_shares_average_to_the_one_process_gradient():
    """What DDP computes, by hand: the mean over ranks of weight * grad(mean loss
    of the share) is the gradient of the mean loss of the whole batch, also when
    the shares are unequal or empty."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(5, generator=gen, requires_grad=True)
    for n, world in [(7, 2), (3, 4), (1, 2), (10, 3)]:
        x = torch.randn(n, 5, generator=gen)
        (full,) = torch.autograd.grad(((x @ w) ** 2).mean(), w)
        total = torch.zeros(5)
        for r in range(world):
            xs, _, rows, weight = distributed.Ranks(r, world, "cpu").share(x, x, n)
            (g,) = torch.autograd.grad(((xs @ w) ** 2).mean() * weight, w)
            total += g / world  # DDP's all-reduce averages
        torch.testing.assert_close(total, full)


def test_one_process_is_left_alone(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not distributed.launched_by_torchrun() and distributed.is_main_process()
    with distributed.process_group(torch.device("cpu")) as ranks:
        assert ranks == distributed.Ranks(0, 1, torch.device("cpu"))
        assert ranks.sum([1.0, 2.5]) == [1.0, 2.5] and ranks.broadcast("x") == "x"
        model = torch.nn.Linear(2, 2)
        assert ranks.wrap(model) is model
    assert not torch.distributed.is_initialized()


class TwoRanksDisagree(distributed.Ranks):
    """Rank 1 of 2 whose partner, rank 0, saw another batch."""

    def broadcast(self, obj):
        return [v + 1 for v in obj]

    def sum(self, values):
        return [v + 0.0 for v in values]  # rank 0's flag: 0 (it disagrees too)


def test_ranks_that_see_different_batches_are_stopped():
    from dlbook.torch.train import _check_same_batch

    x, y = torch.randn(4, 3), torch.arange(4)
    with pytest.raises(ValueError, match=r"rank 1 of 2.*first batches differ.*"
                       r"pass seed=.*no DistributedSampler"):
        _check_same_batch(x, y, TwoRanksDisagree(1, 2, torch.device("cpu")))

    class Agree(distributed.Ranks):
        def broadcast(self, obj):
            return obj

        def sum(self, values):
            return [2 * v for v in values]

    _check_same_batch(x, y, Agree(1, 2, torch.device("cpu")))  # no error

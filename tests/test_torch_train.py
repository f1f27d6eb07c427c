"""fit / evaluate / History / ArrayLoader / checkpoints."""

import functools
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from dlbook.torch import train as T  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def digits():
    try:
        from dlbook.data import load_digits
    except ImportError:  # the data module is another engineer's; fall back
        from sklearn.datasets import load_digits as sk
        from sklearn.model_selection import train_test_split

        X, y = sk(return_X_y=True)
        Xtr, Xte, ytr, yte = train_test_split(
            (X / 16).astype(np.float32), y.astype(np.int64), test_size=0.2,
            random_state=0, stratify=y)
        return Xtr, ytr, Xte, yte
    return load_digits()


def mlp(seed=0, dropout=0.0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(64, 10))


def _no_time(h):
    return [{k: v for k, v in r.items() if k != "time"} for r in h.records]


# ------------------------------------------------------------------ fit


def test_fit_reaches_95_percent_on_digits(digits):
    Xtr, ytr, Xte, yte = digits
    model = mlp()
    h = T.fit(model, (Xtr, ytr), (Xte, yte), epochs=20, lr=3e-3, seed=0,
              progress=False, device="cpu")
    assert len(h) == 20
    assert h["val_accuracy"][-1] >= 0.95
    assert h["train_loss"][-1] < h["train_loss"][0] / 5
    ev = T.evaluate(model, (Xte, yte))
    assert ev["accuracy"] == pytest.approx(h["val_accuracy"][-1])
    assert ev["loss"] == pytest.approx(h["val_loss"][-1], rel=1e-5)
    # the same number by hand
    with torch.no_grad():
        acc = (model(torch.from_numpy(Xte)).argmax(1).numpy() == yte).mean()
    assert ev["accuracy"] == pytest.approx(acc)


def test_fit_is_deterministic_under_a_seed(digits):
    Xtr, ytr, Xte, yte = digits
    runs = []
    for _ in range(2):
        model = mlp(dropout=0.3)  # dropout draws random numbers too
        h = T.fit(model, (Xtr, ytr), (Xte, yte), epochs=3, seed=123, progress=False,
                  device="cpu")
        runs.append((h, model.state_dict()))
    (h1, s1), (h2, s2) = runs
    assert _no_time(h1) == _no_time(h2)
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    # and a different seed gives a different run (so the check above can fail)
    h3 = T.fit(mlp(dropout=0.3), (Xtr, ytr), (Xte, yte), epochs=3, seed=7,
               progress=False, device="cpu")
    assert _no_time(h3) != _no_time(h1)


def test_early_stopping_restores_the_best_weights():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(64, 64, generator=g)
    y = torch.randint(0, 10, (64,), generator=g)
    Xv = torch.randn(64, 64, generator=g)
    yv = torch.randint(0, 10, (64,), generator=g)  # unrelated labels: overfits fast
    model = mlp()
    h = T.fit(model, (X, y), (Xv, yv), epochs=200, lr=1e-2, early_stopping=3,
              seed=0, progress=False, device="cpu")
    assert h.stopped_early and len(h) < 200
    vl = h["val_loss"]
    best = int(np.argmin(vl)) + 1
    assert h.best_epoch == best and len(h) == best + 3
    assert T.evaluate(model, (Xv, yv))["loss"] == pytest.approx(vl[best - 1],
                                                                 rel=1e-6)
    assert "best epoch" in repr(h)
    with pytest.raises(ValueError, match="early_stopping needs val_data"):
        T.fit(model, (X, y), epochs=1, early_stopping=2)


class RecordingSGD(torch.optim.SGD):
    """Records the global gradient norm that each step sees."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.norms = []

    def step(self, closure=None):
        grads = [p.grad for g in self.param_groups for p in g["params"]
                 if p.grad is not None]
        self.norms.append(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(t) for t in grads])).item())
        return super().step(closure)


def test_gradient_clipping_bounds_the_norm(digits):
    Xtr, ytr, _, _ = digits
    data = (Xtr[:256] * 50, ytr[:256])  # large inputs -> large gradients
    model = mlp()
    unclipped = RecordingSGD(model.parameters(), lr=1e-4)
    T.fit(model, data, epochs=1, optimizer=unclipped, progress=False, device="cpu",
          seed=0)
    assert max(unclipped.norms) > 1.0  # otherwise the test below proves nothing
    model = mlp()
    opt = RecordingSGD(model.parameters(), lr=1e-4)
    T.fit(model, data, epochs=1, optimizer=opt, grad_clip=1.0, progress=False,
          device="cpu", seed=0)
    assert len(opt.norms) == 4 and max(opt.norms) <= 1.0 + 1e-5


def test_fit_takes_dataloaders_factories_metrics_and_schedulers(digits):
    Xtr, ytr, Xte, yte = digits
    ds = torch.utils.data.TensorDataset(torch.from_numpy(Xtr), torch.from_numpy(ytr))
    dl = torch.utils.data.DataLoader(ds, batch_size=128, shuffle=True)

    def top2(logits, y):
        return (logits.topk(2, dim=-1).indices == y[:, None]).any(-1).float().mean()

    model = mlp()
    opt = functools.partial(torch.optim.SGD, lr=0.5, momentum=0.9)
    h = T.fit(model, dl, T.ArrayLoader(Xte, yte, 100, device="cpu"), epochs=2,
              optimizer=opt, metrics=("accuracy", top2), progress=True,
              device="cpu")
    assert {"val_top2", "train_top2", "val_accuracy"} <= set(h.keys())
    assert all(a <= b for a, b in zip(h["val_accuracy"], h["val_top2"]))
    h = T.fit(model, dl, (Xte, yte), epochs=1, metrics={"acc": T.accuracy},
              progress=False, device="cpu")
    assert h["val_acc"][0] == pytest.approx(T.evaluate(model, (Xte, yte))["accuracy"])
    # scheduler steps once per epoch; the record shows the lr the epoch used
    model = mlp()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(sgd, step_size=1, gamma=0.5)
    h = T.fit(model, (Xtr, ytr), epochs=3, optimizer=sgd, scheduler=sched,
              metrics=None, progress=False, device="cpu")
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.025])
    with pytest.raises(TypeError, match=r"tuple \(X, y\)"):
        T.fit(model, 42, epochs=1)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        T.fit(model, (Xtr, ytr), epochs=1, metrics=("f1",))


def test_fit_trains_a_sequence_model_with_bf16_autocast_on_cpu():
    from dlbook.torch.models.gpt import GPT, GPTConfig

    torch.manual_seed(0)
    m = GPT(GPTConfig(block_size=8, vocab_size=7, n_layer=1, n_head=2, n_embd=16))
    seq = torch.arange(9).remainder(7).repeat(32, 1)  # (32, 9)
    h = T.fit(m, (seq[:, :-1], seq[:, 1:]), epochs=3, lr=1e-2, amp="bf16",
              progress=False, device="cpu", batch_size=16)
    assert h["train_loss"][-1] < h["train_loss"][0] < math.log(7) + 0.3


# ------------------------------------------------------------------ pieces


def test_accuracy_by_hand():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert T.accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75
    assert T.accuracy(torch.tensor([2.0, -1.0]), torch.tensor([1.0, 1.0])) == 0.5
    with pytest.raises(ValueError, match=r"logits \(4, 2\) and targets \(3,\)"):
        T.accuracy(logits, torch.tensor([0, 1, 1]))


def test_array_loader():
    X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    dl = T.ArrayLoader(X, y, batch_size=4, device="cpu")
    assert len(dl) == 3
    batches = list(dl)
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    assert batches[0][1].tolist() == [0, 1, 2, 3]
    assert torch.equal(batches[1][0], torch.from_numpy(X[4:8]))
    assert len(T.ArrayLoader(X, y, 4, drop_last=True, device="cpu")) == 2
    a = T.ArrayLoader(X, y, 4, shuffle=True, seed=0, device="cpu")
    b = T.ArrayLoader(X, y, 4, shuffle=True, seed=0, device="cpu")
    ea, eb = [torch.cat([t[1] for t in dl]) for dl in (a, b)]
    assert torch.equal(ea, eb) and sorted(ea.tolist()) == list(range(10))
    assert not torch.equal(ea, torch.cat([t[1] for t in a]))  # new order per epoch
    for xb, yb in a:  # rows stay paired with their labels
        assert torch.equal(xb[:, 0], 2 * yb.float())
    assert "10 samples" in repr(a)
    with pytest.raises(ValueError, match=r"same length.*\(10, 2\).*\(9,\)"):
        T.ArrayLoader(X, y[:9])


def test_history_dict_repr_plot():
    h = T.History()
    assert repr(h) == "History(0 epochs)"
    for e in range(1, 4):
        h.append({"epoch": e, "train_loss": 1.0 / e, "train_accuracy": 0.5,
                  "val_loss": 1.5 / e, "val_accuracy": 0.4 + 0.1 * e, "lr": 0.1,
                  "time": 0.25})
    d = h.to_dict()
    assert d["val_loss"] == [1.5, 0.75, 0.5] and d["best_epoch"] is None
    r = repr(h)
    assert "3 epochs" in r and "train_loss 1 -> 0.3333" in r and "0.8s" in r
    fig, axes = h.plot()
    assert len(axes) == 2
    assert [ln.get_label() for ln in axes[0].get_lines()] == ["train_loss", "val_loss"]
    np.testing.assert_allclose(axes[0].get_lines()[1].get_ydata(), [1.5, 0.75, 0.5])
    with pytest.raises(KeyError, match="no 'val_f1'"):
        h["val_f1"]
    import matplotlib.pyplot as plt

    plt.close(fig)


# ------------------------------------------------------------------ checkpoints


def test_checkpoint_round_trip(tmp_path, digits):
    Xtr, ytr, _, _ = digits
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    h = T.fit(model, (Xtr[:200], ytr[:200]), epochs=1, optimizer=opt,
              progress=False, device="cpu")
    path = T.save_checkpoint(tmp_path / "sub" / "ck.pt", model, opt, epoch=1,
                             history=h.to_dict(), note="hi")
    model2 = mlp(seed=5)
    opt2 = torch.optim.AdamW(model2.parameters(), lr=1e-3)
    extra = T.load_checkpoint(path, model2, opt2)
    assert extra["epoch"] == 1 and extra["note"] == "hi"
    assert extra["history"]["train_loss"] == h["train_loss"]
    s1, s2 = model.state_dict(), model2.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    o1, o2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(o1[k]["exp_avg"], o2[k]["exp_avg"]) for k in o1)
    with pytest.raises(TypeError, match=r"extra\['arr'\] is a ndarray"):
        T.save_checkpoint(tmp_path / "x.pt", model, arr=np.zeros(3))


def test_bad_checkpoints_give_clear_errors(tmp_path):
    model = mlp()
    good = T.save_checkpoint(tmp_path / "good.pt", model)
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=r"no file at .*nope\.pt.*expected"):
        T.load_checkpoint(missing, model)
    truncated = tmp_path / "trunc.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"trunc\.pt is not a readable checkpoint"):
        T.load_checkpoint(truncated, model)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"notes\.txt is not a readable checkpoint"):
        T.load_checkpoint(text, model)
    plain = tmp_path / "plain.pt"
    torch.save(model.state_dict(), plain)  # a bare state_dict, not a checkpoint
    with pytest.raises(ValueError, match=r"plain\.pt holds a dict with keys.*"
                       r"expected a dlbook checkpoint"):
        T.load_checkpoint(plain, model)
    with pytest.raises(ValueError, match="no optimizer state"):
        T.load_checkpoint(good, model, torch.optim.SGD(model.parameters(), lr=0.1))


# ------------------------------------------------------------------ GPU


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_bf16_autocast_training_on_gpu_converges(digits):
    Xtr, ytr, Xte, yte = digits
    loader = T.ArrayLoader(Xtr, ytr, 64, shuffle=True, seed=0, device="cuda")
    assert loader.X.device.type == "cuda"  # the whole set moved once
    model = mlp()
    h = T.fit(model, loader, (Xte, yte), epochs=20, lr=3e-3, amp="auto", seed=0,
              progress=False)  # device picked automatically: cuda
    assert next(model.parameters()).device.type == "cuda"
    assert h["val_accuracy"][-1] >= 0.95
    # a GPU checkpoint loads onto the CPU
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        p = T.save_checkpoint(Path(d) / "g.pt", model)
        cpu_model = mlp(seed=3)
        T.load_checkpoint(p, cpu_model)
        assert next(cpu_model.parameters()).device.type == "cpu"
        torch.testing.assert_close(cpu_model[0].weight, model[0].weight.cpu())


# ------------------------------------------------------------------ fit without traps


class SqrtGate(nn.Module):
    """A linear map times sqrt(s), with s = 0: the output and the loss are finite,
    the slope of sqrt at 0 is not."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin = nn.Linear(4, 3)
        self.s = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return self.lin(x) * self.s.sqrt()


def test_a_non_finite_gradient_is_never_applied():
    model = SqrtGate()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    X, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    with pytest.raises(FloatingPointError) as err:
        T.fit(model, (X, y), epochs=1, progress=False, device="cpu", seed=0)
    msg = str(err.value)
    assert "loss was finite" in msg and "gradient of s" in msg
    assert "not applied" in msg and "detect_anomaly" in msg and "sqrt" in msg
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # untouched
    # a non-finite loss is refused too, before any step
    model = mlp()
    Xn = torch.full((8, 64), float("nan"))
    with pytest.raises(FloatingPointError, match="the loss became nan in epoch 1, "
                       "batch 1; the step was not applied"):
        T.fit(model, (Xn, torch.zeros(8, dtype=torch.long)), epochs=1,
              progress=False, device="cpu")


def test_float64_numpy_data_meets_a_float32_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))  # float64, as NumPy makes it
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1  # float64 regression targets
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    h = T.fit(model, (X, y[:, None]), (X, y[:, None]), epochs=30, lr=0.1,
              loss_fn=nn.MSELoss(), progress=False, device="cpu", seed=0)
    assert model.weight.dtype == torch.float32
    assert h["train_loss"][-1] < h["train_loss"][0] / 10
    # regression: the default metrics leave accuracy out (it would read 0)
    assert set(h.keys()) == {"epoch", "train_loss", "val_loss", "lr", "time"}
    assert set(T.evaluate(model, (X, y[:, None]), nn.MSELoss())) == {"loss"}
    # a float64 model gets float64 batches
    m64 = nn.Linear(3, 1).double()
    T.fit(m64, (X.astype(np.float32), y[:, None]), epochs=1, loss_fn=nn.MSELoss(),
          progress=False, device="cpu")


def test_classification_gets_accuracy_by_default(digits):
    Xtr, ytr, Xte, yte = digits
    h = T.fit(mlp(), (Xtr[:128], ytr[:128]), (Xte, yte), epochs=1, progress=False,
              device="cpu", seed=0)
    assert {"train_accuracy", "val_accuracy"} <= set(h.keys())


def test_a_per_sample_loss_is_refused_clearly():
    X, y = torch.randn(8, 64), torch.randint(0, 10, (8,))
    model = mlp()
    with pytest.raises(ValueError, match=r"scalar tensor, got a tensor of shape "
                       r"\(8,\).*reduction='mean'"):
        T.fit(model, (X, y), epochs=1, loss_fn=nn.CrossEntropyLoss(reduction="none"),
              progress=False, device="cpu")


class LrSGD(torch.optim.SGD):
    """Records the learning rate of every step."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.seen = []

    def step(self, closure=None):
        self.seen.append(self.param_groups[0]["lr"])
        return super().step(closure)


def _lrs(model, interval, sched_fn, epochs=2, n=32, batch_size=8):
    X, y = torch.randn(n, 64), torch.randint(0, 10, (n,))
    opt = LrSGD(model.parameters(), lr=0.1)
    h = T.fit(model, (X, y), (X, y), epochs=epochs, optimizer=opt,
              scheduler=sched_fn(opt), scheduler_interval=interval,
              batch_size=batch_size, progress=False, device="cpu", seed=0)
    return opt.seen, h


def test_schedulers_step_per_batch_or_per_epoch():
    step_lr = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1,
                                gamma=0.5)
    seen, h = _lrs(mlp(), "step", step_lr)  # 4 batches an epoch
    assert seen == pytest.approx([0.1 * 0.5**i for i in range(8)])
    assert h["lr"] == pytest.approx([0.1, 0.1 * 0.5**4])  # lr at each epoch's start
    seen, _ = _lrs(mlp(), "epoch", step_lr)
    assert seen == pytest.approx([0.1] * 4 + [0.05] * 4)
    # OneCycleLR is per batch by default, and sized in batches
    one_cycle = functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1.0,
                                  total_steps=8)
    seen, _ = _lrs(mlp(), None, one_cycle)
    assert seen[0] < 0.1 < 0.9 < max(seen) and seen[-1] < 0.01  # a whole cycle
    short = functools.partial(torch.optim.lr_scheduler.OneCycleLR, max_lr=1.0,
                              total_steps=5)
    with pytest.raises(ValueError, match=r"total_steps=5.*step it 8 times.*"
                       r"2 epochs x 4 batches.*total_steps=8"):
        _lrs(mlp(), None, short)
    with pytest.raises(ValueError, match="'step' or 'epoch', got 'batch'"):
        _lrs(mlp(), "batch", step_lr)


class RecordingPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.metrics_seen = []

    def step(self, metrics, *a, **k):
        self.metrics_seen.append(float(metrics))
        return super().step(metrics, *a, **k)


def test_reduce_lr_on_plateau_is_fed_the_validation_loss():
    model = mlp()
    X, y = torch.randn(32, 64), torch.randint(0, 10, (32,))
    Xv, yv = torch.randn(32, 64), torch.randint(0, 10, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    plateau = RecordingPlateau(opt, patience=0, factor=0.5)
    h = T.fit(model, (X, y), (Xv, yv), epochs=3, optimizer=opt, scheduler=plateau,
              progress=False, device="cpu", seed=0)
    assert plateau.metrics_seen == h["val_loss"]
    with pytest.raises(ValueError, match="ReduceLROnPlateau.*once per epoch"):
        T.fit(model, (X, y), epochs=1, optimizer=opt, scheduler=plateau,
              scheduler_interval="step", progress=False)


def test_progress_is_per_batch_and_closed_on_error(capsys):
    from tqdm.std import tqdm

    X, y = torch.randn(40, 64), torch.randint(0, 10, (40,))
    T.fit(mlp(), (X, y), epochs=2, batch_size=8, progress=True, device="cpu")
    err = capsys.readouterr().err
    assert "10/10" in err and "epoch 2/2" in err and "batch/s" in err

    def boom(out, y):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        T.fit(mlp(), (X, y), epochs=2, loss_fn=boom, progress=True, device="cpu")
    assert len(tqdm._instances) == 0  # the bar was closed


def test_no_widget_warning_in_a_notebook_without_ipywidgets(monkeypatch):
    import importlib.util
    import sys
    import types
    import warnings

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ipywidgets"
                        else real(name, *a))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # TqdmWarning: IProgress not found
        bar = T._progress_bar(3, True)
        bar.update(3)
        bar.close()
    from tqdm.std import tqdm

    assert type(bar) is tqdm  # the text bar


@pytest.mark.parametrize("capability, expected", [
    ((7, 0), torch.float16), ((7, 5), torch.float16),  # V100, Colab's T4
    ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16),  # A100, H100
])
def test_bf16_only_where_the_gpu_has_it(monkeypatch, capability, expected):
    from dlbook.torch.device import autocast_dtype

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert autocast_dtype("cuda") == expected
    assert T._amp_dtype("auto", torch.device("cuda")) == expected
    assert T._amp_dtype(True, torch.device("cuda")) == expected
    assert T._amp_dtype("auto", torch.device("cpu")) is None
    assert T._amp_dtype(True, torch.device("cpu")) == torch.bfloat16


def test_fp16_autocast_trains_with_loss_scaling_on_cpu(digits):
    """The path an older GPU (a T4) takes: fp16 autocast and a GradScaler."""
    Xtr, ytr, _, _ = digits
    model = mlp()
    h = T.fit(model, (Xtr[:512], ytr[:512]), epochs=4, lr=3e-3, amp="fp16",
              progress=False, device="cpu", seed=0)
    assert h["train_loss"][-1] < 0.8 * h["train_loss"][0]
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_fit_reads_like_a_short_loop():
    # issue 15: fit's body was 130 lines with the step, metrics, scheduler and
    # early stopping inline; they now have helpers (_Step, _train_epoch,
    # _step_per_epoch, _EarlyStopping, _loaders), and fit reads as the loop
    import ast
    import inspect
    import textwrap

    fn = ast.parse(textwrap.dedent(inspect.getsource(T.fit))).body[0]
    code = fn.body[1:]  # without the docstring
    assert code[-1].end_lineno - code[0].lineno + 1 <= 60
    helpers = {"_Step", "_train_epoch", "_step_per_epoch", "_EarlyStopping"}
    called = {n.func.id for n in ast.walk(fn) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}
    assert helpers <= called

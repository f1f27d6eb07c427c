"""Tests of dlbook.torch.models: parameter counts, shapes, errors, and training.

Full-size models are built on the meta device: shapes and parameter counts
without allocating (or initialising) 100M+ weights, so the whole file stays
within its time budget on a 2-core CPU.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from dlbook.torch import models
from dlbook.torch.models import get_model, list_models


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(factory, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return factory(**kwargs)


@pytest.fixture
def one_thread():
    """Tiny models run faster on one thread, and don't stall when the other core
    is busy (two threads spin-waiting on each other under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --- full-size models: exact parameter counts -------------------------------

REFERENCE_COUNTS = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg13": 133_047_848,
    "vgg16": 138_357_544,
    "vgg19": 143_667_240,
    "googlenet": 6_624_904,
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
}


@pytest.mark.parametrize("name, expected", list(REFERENCE_COUNTS.items()))
def test_full_size_parameter_counts(name, expected):
    factory = getattr(models, name)
    model = on_meta(factory)
    assert count(model) == expected
    # the docstring states the same number
    assert f"{expected:,}" in factory.__doc__


def test_googlenet_aux_count():
    assert count(on_meta(models.googlenet, aux_logits=True)) == 13_004_888


@pytest.mark.parametrize("name", ["vgg11", "vgg13", "vgg16", "vgg19"])
def test_vgg_batch_norm_adds_two_parameters_per_conv_channel(name):
    plain = on_meta(getattr(models, name))
    with_bn = on_meta(getattr(models, name), batch_norm=True)
    conv_channels = sum(
        m.out_channels for m in plain.modules() if isinstance(m, nn.Conv2d)
    )
    assert count(with_bn) == count(plain) + 2 * conv_channels  # gamma and beta
    assert f"{count(with_bn):,}" in getattr(models, name).__doc__


def test_num_classes_changes_only_the_last_layer():
    # ResNet-18's head is Linear(512, classes): 513 parameters per class
    assert count(on_meta(models.resnet18, num_classes=10)) == 11_689_512 - 990 * 513


def test_lenet5_count_by_hand():
    def conv(c_in, c_out, k):
        return c_out * (c_in * k * k + 1)

    def linear(n_in, n_out):
        return n_out * (n_in + 1)

    by_hand = conv(1, 6, 5) + conv(6, 16, 5) + conv(16, 120, 5)
    by_hand += linear(120, 84) + linear(84, 10)
    assert by_hand == 61_706
    assert count(models.lenet5()) == by_hand
    assert "61,706" in models.lenet5.__doc__


@pytest.mark.parametrize(
    "name, entries, keys",
    [
        ("resnet18", 122, {"layer2.0.downsample.0.weight": (128, 64, 1, 1),
                           "layer4.1.bn2.running_var": (512,),
                           "fc.weight": (1000, 512)}),
        ("resnet50", 320, {"layer1.0.conv3.weight": (256, 64, 1, 1),
                           "layer2.0.conv2.weight": (128, 128, 3, 3),
                           "layer3.0.downsample.1.weight": (1024,)}),
        ("googlenet", 344, {"conv1.conv.weight": (64, 3, 7, 7),
                            "inception3a.branch3.1.conv.weight": (32, 16, 3, 3),
                            "inception5b.branch4.1.bn.running_mean": (128,)}),
        ("alexnet", 16, {"features.3.weight": (192, 64, 5, 5),
                         "classifier.1.weight": (4096, 9216),
                         "classifier.6.bias": (1000,)}),
        ("vgg16", 32, {"features.28.weight": (512, 512, 3, 3),
                       "classifier.0.weight": (4096, 25088),
                       "classifier.6.weight": (1000, 4096)}),
    ],
)
def test_state_dict_layout_follows_the_reference(name, entries, keys):
    # Same module names and shapes as the reference implementations, so their
    # checkpoints load with load_state_dict (their resnet18 and resnet50 state
    # dicts have 122 and 320 entries, counting BN buffers).
    state = on_meta(get_model, name=name).state_dict()
    assert len(state) == entries
    for key, shape in keys.items():
        assert tuple(state[key].shape) == shape, key


def test_googlenet_aux_state_dict_keys():
    state = on_meta(models.googlenet, aux_logits=True).state_dict()
    assert tuple(state["aux1.conv.conv.weight"].shape) == (128, 512, 1, 1)
    assert tuple(state["aux2.conv.conv.weight"].shape) == (128, 528, 1, 1)
    assert tuple(state["aux2.fc1.weight"].shape) == (1024, 2048)


# --- full-size models: forward shapes -----------------------------------------

@pytest.mark.parametrize("name", list(REFERENCE_COUNTS))
def test_full_size_forward_shape_on_meta(name):
    model = on_meta(get_model, name=name).eval()
    x = torch.empty(2, 3, 224, 224, device="meta")
    assert model(x).shape == (2, 1000)


def test_resnet50_downsamples_in_the_3x3_conv():
    # v1.5: the first bottleneck of layer2 sees 56x56 in its 3x3 conv and leaves
    # 28x28 (v1 would already be at 28x28 there, having strided the 1x1).
    model = on_meta(models.resnet50).eval()
    seen = {}

    def record(name):
        def hook(module, args, out):
            seen[name] = (args[0].shape[-1], out.shape[-1])  # (W in, W out)
        return hook

    for name in ("conv1", "conv2", "conv3"):
        getattr(model.layer2[0], name).register_forward_hook(record(name))
    model(torch.empty(1, 3, 224, 224, device="meta"))
    assert seen == {"conv1": (56, 56), "conv2": (56, 28), "conv3": (28, 28)}


def test_lenet5_forward_real():
    y = models.lenet5()(torch.randn(3, 1, 32, 32))
    assert y.shape == (3, 10) and torch.isfinite(y).all()


def test_googlenet_aux_outputs_in_train_logits_only_in_eval():
    model = on_meta(models.googlenet, aux_logits=True, num_classes=7)
    x = torch.empty(2, 3, 224, 224, device="meta")
    out = model.train()(x)
    assert isinstance(out, models.GoogLeNetOutputs)
    assert out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert [tuple(t.shape) for t in out] == [(2, 7)] * 3
    out = model.eval()(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 7)
    # without aux heads, training mode returns plain logits too
    plain = on_meta(models.googlenet).train()
    assert isinstance(plain(x), torch.Tensor)


@pytest.mark.parametrize(
    "factory, kwargs, size",
    [
        (models.resnet18, {}, 32),
        (models.resnet50, {}, 32),
        (models.googlenet, {"aux_logits": True}, 32),
    ],
)
def test_real_forward_backward_at_small_size(factory, kwargs, size, one_thread):
    # Meta tensors check shapes only; this runs the arithmetic and autograd
    # (in-place ReLUs, shortcut additions, concatenations) for real, at a small
    # size. AlexNet and VGG are left to the meta tests: their 61M and 133M
    # weights take seconds just to initialise.
    torch.manual_seed(0)
    model = factory(num_classes=5, **kwargs).train()
    out = model(torch.randn(2, 3, size, size))
    outputs = list(out) if isinstance(out, tuple) else [out]
    assert all(o.shape == (2, 5) for o in outputs)
    sum(o.square().mean() for o in outputs).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


# --- registry -----------------------------------------------------------------

def test_list_models_builds_every_name():
    names = list_models()
    assert len(names) == len(set(names)) == 22
    assert names[-2:] == ["shapes_cnn", "vit"]  # chapter 8's models, in book order
    for name in names:
        assert isinstance(on_meta(get_model, name=name), nn.Module)


def test_get_model_passes_kwargs_and_normalises_names():
    model = on_meta(get_model, name="ResNet-18", num_classes=10)
    assert isinstance(model, models.ResNet) and model.fc.out_features == 10


def test_get_model_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        get_model("resnet19")
    msg = str(err.value)
    assert "'resnet19'" in msg and "Did you mean 'resnet18'" in msg
    assert all(name in msg for name in list_models())
    with pytest.raises(TypeError, match="must be a str"):
        get_model(18)


# --- input checks ----------------------------------------------------------------

@pytest.mark.parametrize(
    "factory, shape, expected",
    [
        (models.alexnet, (2, 1, 224, 224), r"AlexNet: expected input of shape "
         r"\(N, 3, H, W\) with every spatial size >= 63, got \(2, 1, 224, 224\)"),
        (models.resnet50, (3, 224, 224), r"ResNet-50: .*\(N, 3, H, W\), "
         r"got \(3, 224, 224\)"),
        (models.vgg16, (2, 3, 16, 16), r"VGG-16: .*>= 32, got \(2, 3, 16, 16\)"),
        (models.googlenet, (2, 4, 224, 224), r"GoogLeNet: .*got \(2, 4, 224, 224\)"),
    ],
)
def test_full_size_wrong_input_shape(factory, shape, expected):
    model = on_meta(factory)
    with pytest.raises(ValueError, match=expected):
        model(torch.empty(*shape, device="meta"))


@pytest.mark.parametrize(
    "module_name, factory_name, min_size",
    [("alexnet", "alexnet", 63), ("vgg", "vgg11", 32), ("googlenet", "googlenet", 15)],
)
def test_stated_minimum_size_is_the_true_minimum(monkeypatch, module_name,
                                                 factory_name, min_size):
    module = sys.modules[f"dlbook.torch.models.{module_name}"]
    model = on_meta(getattr(module, factory_name)).eval()
    x_min = torch.empty(1, 3, min_size, min_size, device="meta")
    x_less = torch.empty(1, 3, min_size - 1, min_size - 1, device="meta")
    assert model(x_min).shape == (1, 1000)
    with pytest.raises(ValueError, match=f">= {min_size}"):
        model(x_less)
    # Without the check, one pixel less fails deep inside the network.
    monkeypatch.setattr(module, "check_input", lambda *args, **kwargs: None)
    with pytest.raises(RuntimeError, match="too small"):
        model(x_less)


def test_small_model_wrong_shapes():
    with pytest.raises(ValueError, match=r"LeNet5: .*\(N, 1, 32, 32\), got "
                       r"\(2, 1, 28, 28\); pad 28x28"):
        models.lenet5()(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"DigitsCNN: .*got \(5, 64\); reshape"):
        models.digits_cnn()(torch.randn(5, 64))
    with pytest.raises(ValueError, match=r"DigitsMLP: .*\(N, 64\) or "
                       r"\(N, 1, 8, 8\), got \(5, 65\)"):
        models.digits_mlp()(torch.randn(5, 65))
    with pytest.raises(ValueError, match=r"SmallCNN: .*\(N, 1, 28, 28\), got"):
        models.small_cnn()(torch.randn(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"SmallResNet\(depth=8, plain\): .*\(N, 3, H"):
        models.small_resnet(8, residual=False, in_channels=3)(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"MNIST1DCNN: .*\(N, 1, 40\), got \(4, 41\)"):
        models.mnist1d_cnn()(torch.randn(4, 41))
    with pytest.raises(ValueError, match=r"MNIST1DGRU: expected input of shape "
                       r"\(N, 40\) or \(N, 1, 40\), got \(4, 2, 40\)"):
        models.mnist1d_gru()(torch.randn(4, 2, 40))
    with pytest.raises(TypeError, match="MNIST1DMLP: expected a torch.Tensor, got"):
        models.mnist1d_mlp()(np.zeros((4, 40), np.float32))


def test_small_resnet_rejects_bad_depth():
    with pytest.raises(ValueError, match=r"depth must be 6n \+ 2.*got 18"):
        models.small_resnet(depth=18)


# --- small variants -------------------------------------------------------------

SMALL = [
    # factory, kwargs, input shape, parameter count
    (models.digits_mlp, {}, (5, 64), 4_810),
    (models.digits_mlp, {}, (5, 1, 8, 8), 4_810),
    (models.digits_cnn, {}, (5, 1, 8, 8), 6_090),
    (models.small_cnn, {}, (5, 1, 28, 28), 206_970),
    (models.small_cnn, {"in_channels": 3, "image_size": 32}, (5, 3, 32, 32), 268_698),
    (models.small_resnet, {}, (5, 1, 28, 28), 269_434),
    (models.small_resnet, {"in_channels": 3}, (5, 3, 28, 28), 269_722),
    (models.small_resnet, {"depth": 8}, (5, 1, 28, 28), 75_002),
    (models.small_resnet, {"depth": 56}, (2, 1, 8, 8), 852_730),
    (models.mnist1d_logistic, {}, (5, 40), 410),
    (models.mnist1d_mlp, {}, (5, 40), 15_210),
    (models.mnist1d_cnn, {}, (5, 40), 5_210),
    (models.mnist1d_cnn, {}, (5, 1, 40), 5_210),
    (models.mnist1d_gru, {}, (5, 40), 5_134),
]


@pytest.mark.parametrize("factory, kwargs, shape, expected", SMALL)
def test_small_models_shape_and_documented_count(factory, kwargs, shape, expected):
    model = factory(**kwargs)
    y = model(torch.randn(*shape))
    assert y.shape == (shape[0], 10)
    assert count(model) == expected
    assert f"{expected:,}" in factory.__doc__


def test_mnist1d_cnn_shape_arithmetic():
    model = models.mnist1d_cnn()
    lengths = []
    h = torch.randn(2, 1, 40)
    for conv in (model.conv1, model.conv2, model.conv3):
        h = conv(h)
        lengths.append(h.shape[-1])
    assert lengths == [19, 10, 5] and model.linear.in_features == 125


def test_mnist1d_mlp_skip_option():
    torch.manual_seed(0)
    plain = models.mnist1d_mlp()
    skip = models.mnist1d_mlp(skip=True)
    skip.load_state_dict(plain.state_dict())  # same weights, different wiring
    x = torch.randn(4, 40)
    h = torch.relu(plain.linear1(x))
    expected = plain.linear3(h + torch.relu(plain.linear2(h)))
    torch.testing.assert_close(skip(x), expected)
    assert not torch.allclose(plain(x), expected)


def _zero_last_bn(model):
    for block in model.modules():
        if isinstance(block, models.SmallBlock):
            nn.init.zeros_(block.bn2.weight)
            nn.init.zeros_(block.bn2.bias)


def test_small_resnet_residual_and_plain_differ_only_by_the_shortcut():
    torch.manual_seed(0)
    residual = models.small_resnet(depth=14, residual=True)
    plain = models.small_resnet(depth=14, residual=False)
    assert count(residual) == count(plain)
    plain.load_state_dict(residual.state_dict())  # identical weights
    for m in (residual, plain):
        _zero_last_bn(m)  # every block's residual branch now outputs zeros
        m.eval()
    x = torch.relu(torch.randn(2, 16, 12, 12))  # what a stage sees: after a ReLU
    # residual blocks with a zero branch are the (option A) identity ...
    torch.testing.assert_close(residual.layer1(x), x)
    shortcut = torch.cat([x[:, :, ::2, ::2], torch.zeros(2, 16, 6, 6)], dim=1)
    torch.testing.assert_close(residual.layer2(x), shortcut)
    # ... while the same plain blocks output zeros
    assert plain.layer1(x).abs().max() == 0


def test_digits_cnn_reaches_95_percent(one_thread):
    from dlbook.data import load_digits

    X_train, y_train, X_test, y_test = map(torch.from_numpy, load_digits())
    X_train = X_train.reshape(-1, 1, 8, 8)  # (N, 1, 8, 8)
    X_test = X_test.reshape(-1, 1, 8, 8)
    acc, seconds = _train(models.digits_cnn(), X_train, y_train, X_test, y_test,
                          steps=300, batch_size=64)
    print(f"digits_cnn: test accuracy {acc:.3f} after 300 steps in {seconds:.1f} s")
    assert acc >= 0.95


def test_mnist1d_cnn_clears_accuracy_floor(one_thread):
    from dlbook.data import load_mnist1d

    X_train, y_train, X_test, y_test = map(torch.from_numpy, load_mnist1d())
    # The paper's recipe (Adam, lr 1e-2, batch 100) for 1,500 of its 8,000 steps
    # gives 88-93% over seeds 0-4 (the paper: 94% at the end). Logistic
    # regression tops out near 32% and the MLP near 68%, so 85% takes the
    # convolutions' translation structure.
    acc, seconds = _train(models.mnist1d_cnn(), X_train, y_train, X_test, y_test,
                          steps=1500, batch_size=100)
    # No time limit here: speed is measured in benchmarks/, not asserted in a
    # unit test (CI failed this on a loaded machine: 103 s against 30).
    print(f"mnist1d_cnn: test accuracy {acc:.3f} after 1500 steps in {seconds:.1f} s")
    assert acc >= 0.85


def _train(model, X_train, y_train, X_test, y_test, steps, batch_size, lr=1e-2):
    """Adam on random minibatches; returns (test accuracy, seconds)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = time.perf_counter()
    model.train()
    for _ in range(steps):
        idx = torch.randint(len(X_train), (batch_size,), generator=g)
        loss = nn.functional.cross_entropy(model(X_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(X_test).argmax(1) == y_test).float().mean().item()
    return acc, time.perf_counter() - start


def test_small_resnet_shows_the_degradation_problem(one_thread):
    # He et al. (2016), figure 6: at equal depth and identical parameters, the
    # plain net fits its *training* data worse than the residual one. On the
    # 8x8 digits at depth 32, 150 SGD steps: plain ends near loss 0.5-2, residual
    # near 0.02 (seeds 0-2 checked when this test was written).
    from dlbook.data import load_digits

    X_train, y_train, _, _ = map(torch.from_numpy, load_digits())
    X_train = X_train.reshape(-1, 1, 8, 8)  # (N, 1, 8, 8)
    final = {}
    for residual in (False, True):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        model = models.small_resnet(depth=32, residual=residual, width=8)
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        for _ in range(150):
            idx = torch.randint(len(X_train), (64,), generator=g)
            loss = nn.functional.cross_entropy(model(X_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            final[residual] = nn.functional.cross_entropy(
                model(X_train), y_train).item()
    print(f"depth 32 training loss: plain {final[False]:.3f}, "
          f"residual {final[True]:.3f}")
    assert final[True] < 0.1
    assert final[False] > 5 * final[True]


def test_shapes_cnn_named_layers_count_and_input_check():
    model = models.shapes_cnn()
    assert sum(p.numel() for p in model.parameters()) == 24_771
    assert model.conv1.weight.shape == (16, 3, 5, 5)
    names = [n for n, _ in model.named_children()]
    assert names[:4] == ["conv1", "bn1", "relu1", "pool1"]
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    assert model(torch.rand(1, 3, 48, 40)).shape == (1, 3)  # global max: any size
    expected = r"ShapesCNN: expected input of shape \(N, 3, H, W\)"
    with pytest.raises(ValueError, match=expected):
        model(torch.rand(2, 1, 32, 32))

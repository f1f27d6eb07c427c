"""dlbook.torch.interpret: feature maps, saliency, FGSM, Gram matrices, textures.

References are written independently (einsum, explicit autograd, loops) and
compared in float64.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dlbook.torch import interpret
from dlbook.torch.models import shapes_cnn

pytestmark = pytest.mark.usefixtures("torch_one_thread")

DT = torch.float64


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 3),
    ).to(DT)


def _images(n=5, seed=1):
    return torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(seed),
                      dtype=DT)


# ------------------------------------------------------------- feature maps


def test_feature_maps_match_manual_forward():
    model, x = _model(), _images()
    maps = interpret.feature_maps(model, x, ["1", "2"])
    assert list(maps) == ["1", "2"]
    h = F.relu(model[0](x))
    torch.testing.assert_close(maps["1"], h)
    torch.testing.assert_close(maps["2"], F.max_pool2d(h, 2))
    assert all(not m._forward_hooks for m in model.modules())  # hooks removed


def test_feature_maps_unknown_name():
    with pytest.raises(KeyError, match="no submodule named"):
        interpret.feature_maps(_model(), _images(), ["conv9"])


# ----------------------------------------------------------------- saliency


def test_saliency_equals_autograd_per_image():
    model, x = _model(), _images()
    target = torch.tensor([0, 1, 2, 1, 0])
    sal = interpret.saliency(model, x, target)
    assert sal.shape == (5, 8, 8)
    for i in range(5):  # one image at a time, the plain autograd way
        xi = x[i:i + 1].clone().requires_grad_(True)
        model(xi)[0, target[i]].backward()
        torch.testing.assert_close(sal[i], xi.grad[0].abs().amax(dim=0))
    for p in model.parameters():
        p.grad = None


def test_saliency_default_target_is_prediction_and_params_untouched():
    model, x = _model(), _images()
    pred = model(x).argmax(1)
    torch.testing.assert_close(interpret.saliency(model, x),
                               interpret.saliency(model, x, pred))
    assert all(p.grad is None for p in model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_saliency_bad_input():
    model = _model()
    with pytest.raises(ValueError, match=r"expected images \(N, C, H, W\), got shape"):
        interpret.saliency(model, torch.rand(3, 8, 8, dtype=DT))
    with pytest.raises(ValueError, match=r"expected target \(N,\) = \(5,\)"):
        interpret.saliency(model, _images(), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="floating-point"):
        interpret.saliency(model, torch.zeros(1, 3, 8, 8, dtype=torch.int64))


# --------------------------------------------------------------------- FGSM


def test_fgsm_matches_definition_and_respects_ball_and_clip():
    model, x = _model(), _images(20)
    y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(2))
    eps = 8 / 255
    x_adv = interpret.fgsm(model, x, y, eps)
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(model(xr), y).backward()
    expected = (x + eps * xr.grad.sign()).clamp(0, 1)
    torch.testing.assert_close(x_adv, expected)
    assert (x_adv - x).abs().max() <= eps + 1e-12
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    # pixels near the edges are clipped, so some move by less than eps
    assert ((x_adv - x).abs() < eps - 1e-9).any()
    # and it raises the loss
    with torch.no_grad():
        assert F.cross_entropy(model(x_adv), y) > F.cross_entropy(model(x), y)


def test_fgsm_without_clip_moves_every_pixel_by_eps():
    model, x = _model(), _images()
    y = torch.tensor([0, 1, 2, 0, 1])
    x_adv = interpret.fgsm(model, x, y, 0.5, clip=None)
    moved = (x_adv - x).abs()
    # every pixel with a non-zero gradient moves by exactly eps
    assert torch.allclose(moved[moved > 0], torch.full_like(moved[moved > 0], 0.5))
    assert torch.equal(interpret.fgsm(model, x, y, 0.0), x)


def test_fgsm_bad_input():
    model, x = _model(), _images()
    with pytest.raises(ValueError, match="expected eps >= 0"):
        interpret.fgsm(model, x, torch.zeros(5, dtype=torch.long), -0.1)
    with pytest.raises(ValueError, match=r"expected labels y \(N,\) = \(5,\)"):
        interpret.fgsm(model, x, torch.zeros(4, dtype=torch.long), 0.1)
    with pytest.raises(ValueError, match="low <= high"):
        interpret.fgsm(model, x, torch.zeros(5, dtype=torch.long), 0.1, clip=(1, 0))


# ------------------------------------------------------------ Gram matrices


def test_gram_matrix_against_einsum_and_loops():
    f = torch.randn(2, 3, 4, 5, dtype=DT, generator=torch.Generator().manual_seed(3))
    g = interpret.gram_matrix(f)
    assert g.shape == (2, 3, 3)
    torch.testing.assert_close(g, torch.einsum("nihw,njhw->nij", f, f) / 20)
    for n in range(2):
        for i in range(3):
            for j in range(3):
                ref = sum(f[n, i, h, w] * f[n, j, h, w]
                          for h in range(4) for w in range(5)) / 20
                torch.testing.assert_close(g[n, i, j], ref)
    torch.testing.assert_close(g, g.transpose(1, 2))  # symmetric


def test_gram_matrix_forgets_positions():
    f = torch.randn(1, 4, 6, 6, dtype=DT)
    perm = torch.randperm(36)
    shuffled = f.reshape(1, 4, 36)[..., perm].reshape(1, 4, 6, 6)
    torch.testing.assert_close(interpret.gram_matrix(f),
                               interpret.gram_matrix(shuffled))


def test_gram_matrix_bad_input():
    with pytest.raises(ValueError, match=r"expected feature maps \(N, C, H, W\)"):
        interpret.gram_matrix(torch.rand(3, 4, 4))


def test_texture_loss_zero_at_target_and_checks_layers():
    net = interpret.RandomTextureNet(kernel_sizes=(3, 5), channels=4).to(DT)
    x = _images(1)
    grams = [interpret.gram_matrix(f) for f in net(x)]
    assert interpret.texture_loss(net(x), grams).item() == pytest.approx(0, abs=1e-20)
    assert interpret.texture_loss(net(_images(1, seed=7)), grams).item() > 0
    with pytest.raises(ValueError, match="one target Gram matrix per layer"):
        interpret.texture_loss(net(x), grams[:1])


# ------------------------------------------------------------------- texture


def test_random_texture_net_shapes_and_filters():
    net = interpret.RandomTextureNet(kernel_sizes=(3, 7), channels=6, seed=1)
    out = net(torch.rand(2, 3, 16, 16))
    assert [tuple(o.shape) for o in out] == [(2, 6, 16, 16)] * 2
    for conv in net.convs:
        w = conv.weight
        assert not w.requires_grad
        torch.testing.assert_close(w.mean(dim=(1, 2, 3)), torch.zeros(6),
                                   atol=1e-6, rtol=0)
        torch.testing.assert_close(w.flatten(1).norm(dim=1), torch.ones(6))
    same = interpret.RandomTextureNet(kernel_sizes=(3, 7), channels=6, seed=1)
    assert torch.equal(same.convs[1].weight, net.convs[1].weight)
    assert "kernel_sizes=(3, 7)" in repr(net)
    with pytest.raises(ValueError, match="odd kernel sizes"):
        interpret.RandomTextureNet(kernel_sizes=(4,))


def test_synthesize_texture_lowers_the_loss():
    torch.manual_seed(0)
    stripes = (torch.arange(16) % 4 < 2).float()  # vertical stripes, period 4
    target = stripes.expand(1, 3, 16, 16).clone()
    net = interpret.RandomTextureNet(kernel_sizes=(3, 5), channels=8)
    img, losses = interpret.synthesize_texture(net, target, steps=60, lr=0.05)
    assert img.shape == (1, 3, 16, 16)
    assert img.min() >= 0 and img.max() <= 1
    assert len(losses) == 61
    assert losses[-1] < 0.2 * losses[0]
    with pytest.raises(ValueError, match=r"one target image \(1, C, H, W\)"):
        interpret.synthesize_texture(net, target.expand(2, 3, 16, 16))


# ------------------------------------------------------------ CAM, Grad-CAM


class _GapNet(torch.nn.Module):
    """conv -> ReLU -> global average pool -> linear: CAM's own architecture."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 5, 3, padding=1)
        self.relu = torch.nn.ReLU()
        self.fc = torch.nn.Linear(5, 4)

    def forward(self, x):
        a = self.relu(self.conv(x))  # (N, 5, H, W)
        return self.fc(a.mean(dim=(2, 3)))


def test_cam_averages_to_the_logit_under_global_average_pooling():
    torch.manual_seed(0)
    net = _GapNet().double()
    x = torch.rand(6, 3, 7, 9, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 0, 1])
    cam = interpret.class_activation_map(net, x, target, layer="relu", classifier="fc")
    assert cam.shape == (6, 7, 9)
    logits = net(x).detach()
    expected = logits.gather(1, target[:, None])[:, 0] - net.fc.bias[target].detach()
    torch.testing.assert_close(cam.mean(dim=(1, 2)), expected)


@pytest.mark.parametrize("make", [lambda: _GapNet().double(),
                                  lambda: shapes_cnn().double().eval()])
def test_grad_cam_on_the_last_maps_is_rectified_cam_over_the_positions(make):
    # global average or global max pooling: d logit_c / d A_k(i, j) is W[c, k] at
    # one or all positions, so its mean over h * w positions is W[c, k] / (h * w)
    torch.manual_seed(1)
    net = make()
    layer = "relu" if isinstance(net, _GapNet) else "relu3"
    x = torch.rand(4, 3, 32, 32, dtype=torch.float64)
    cam = interpret.class_activation_map(net, x, layer=layer)
    gc = interpret.grad_cam(net, x, layer)
    h, w = cam.shape[-2:]
    torch.testing.assert_close(gc, torch.relu(cam) / (h * w))
    assert all(p.grad is None for p in net.parameters())


def test_grad_cam_works_at_an_inner_layer_and_refuses_bad_arguments():
    torch.manual_seed(2)
    net = shapes_cnn().eval()
    x = torch.rand(3, 3, 32, 32)
    assert interpret.grad_cam(net, x, "relu2").shape == (3, 16, 16)
    assert (interpret.grad_cam(net, x, "relu1") >= 0).all()
    with pytest.raises(KeyError, match="grad_cam: no submodule named 'relu9'"):
        interpret.grad_cam(net, x, "relu9")
    with pytest.raises(ValueError, match=r"grad_cam: expected target \(N,\)"):
        interpret.grad_cam(net, x, "relu3", target=torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="must be an nn.Linear"):
        interpret.class_activation_map(net, x, classifier="conv3")
    with pytest.raises(ValueError, match="to match 'fc'"):
        interpret.class_activation_map(net, x, layer="relu2")

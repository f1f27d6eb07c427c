"""Tests of dlbook.torch.style: block averages, the content loss, style transfer."""

import pytest
import torch
import torch.nn.functional as F

from dlbook.torch import interpret, style


def _images(seed, size=16):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, size, size, generator=gen)


def _stripes(size=16):
    # a style with structure: red and blue vertical stripes, two pixels wide
    x = torch.zeros(1, 3, size, size)
    x[:, 0, :, 0::4] = x[:, 0, :, 1::4] = 1.0
    x[:, 2, :, 2::4] = x[:, 2, :, 3::4] = 1.0
    return x


def _small_net(seed=0):
    return interpret.RandomTextureNet(kernel_sizes=(3, 5), channels=4, seed=seed)


# ------------------------------------------------------------ block_average


def test_block_average_equals_avg_pool_in_float64():
    x = torch.randn(2, 3, 12, 8, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(0))
    for k in (1, 2, 4):
        torch.testing.assert_close(style.block_average(x, k), F.avg_pool2d(x, k),
                                   rtol=0, atol=1e-15)
    assert torch.equal(style.block_average(x, 1), x)


def test_block_average_by_hand():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    expected = torch.tensor([[2.5, 4.5], [10.5, 12.5]])  # means of the 2 x 2 blocks
    assert torch.equal(style.block_average(x, 2)[0, 0], expected)


def test_block_average_gradient_is_spread_evenly():
    x = torch.zeros(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    style.block_average(x, 2)[0, 0, 0, 1].backward()
    expected = torch.zeros(4, 4, dtype=torch.float64)
    expected[:2, 2:] = 0.25
    assert torch.equal(x.grad[0, 0], expected)


@pytest.mark.parametrize("k", [4, 0, 2.0])
def test_block_average_rejects_a_block_size_that_does_not_divide(k):
    # 4 does not divide the width 6; 0 is no block; 2.0 is not an integer
    with pytest.raises(ValueError, match=r"block_average: .* got k = .* for maps of "
                                         r"shape \(1, 2, 8, 6\)"):
        style.block_average(torch.zeros(1, 2, 8, 6), k)


def test_block_average_rejects_non_images():
    with pytest.raises(ValueError, match=r"block_average.*\(N, C, H, W\).*\(8, 8\)"):
        style.block_average(torch.zeros(8, 8), 2)


# ------------------------------------------------------------- content_loss


def test_content_loss_by_hand():
    target = [torch.ones(1, 1, 2, 2), torch.full((1, 2, 1, 1), 2.0)]
    # layer 0: every entry off by 1, energy 4 -> 4 / 4 = 1; layer 1: equal -> 0
    feats = [torch.full((1, 1, 2, 2), 2.0), torch.full((1, 2, 1, 1), 2.0)]
    assert style.content_loss(feats, target).item() == pytest.approx(0.5, abs=1e-12)
    # all-zero maps are at distance 1 from any target
    zeros = [torch.zeros_like(t) for t in target]
    assert style.content_loss(zeros, target).item() == pytest.approx(1.0, abs=1e-9)


def test_content_loss_averages_a_batch_against_one_target():
    gen = torch.Generator().manual_seed(1)
    t = [torch.randn(1, 3, 4, 4, generator=gen, dtype=torch.float64)]
    a, b = (torch.randn(1, 3, 4, 4, generator=gen, dtype=torch.float64)
            for _ in range(2))
    both = style.content_loss([torch.cat([a, b])], t)
    one_by_one = (style.content_loss([a], t) + style.content_loss([b], t)) / 2
    torch.testing.assert_close(both, one_by_one, rtol=1e-14, atol=0)


def test_content_loss_errors_name_the_layer_and_shapes():
    with pytest.raises(ValueError, match="content_loss: expected one target map per "
                                         "layer, got 2 layers and 1"):
        style.content_loss([torch.zeros(1, 1, 2, 2)] * 2, [torch.zeros(1, 1, 2, 2)])
    with pytest.raises(ValueError, match=r"layer 1's maps are \(1, 3, 2, 2\) but its "
                                         r"target is \(1, 3, 4, 4\)"):
        style.content_loss([torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 2, 2)],
                           [torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 4, 4)])


# ----------------------------------------------------------- style_transfer


def _measure(net, x, content, painting, pool=4):
    with torch.no_grad():
        c_maps = [style.block_average(f, pool) for f in net(content)]
        grams = [interpret.gram_matrix(f) for f in net(painting)]
        feats = net(x)
        return (style.content_loss([style.block_average(f, pool) for f in feats],
                                   c_maps).item(),
                interpret.texture_loss(feats, grams).item())


def test_style_transfer_history_and_range():
    net, content, painting = _small_net(), _images(1), _images(2)
    x, hist = style.style_transfer(net, content, painting, style_weight=3.0, steps=25)
    assert x.shape == content.shape and x.min() > 0 and x.max() < 1
    assert 1 < len(hist["total"]) <= 25
    for c, s, t in zip(hist["content"], hist["style"], hist["total"]):
        assert t == pytest.approx(c + 3.0 * s, rel=1e-5)
    # the first evaluation is at the starting image: the content image (clipped)
    assert hist["content"][0] < 1e-3


def test_style_transfer_without_style_reconstructs_the_content_from_noise():
    net, content, painting = _small_net(), _images(1), _images(2)
    noise = _images(3)
    start = _measure(net, noise, content, painting)[0]
    x, _ = style.style_transfer(net, content, painting, style_weight=0.0, steps=40,
                                init=noise)
    assert _measure(net, x, content, painting)[0] < 0.05 * start


def test_style_transfer_trades_content_for_style_as_the_weight_grows():
    net, content, painting = _small_net(), _images(1), _stripes()
    results = [_measure(net, style.style_transfer(net, content, painting, w,
                                                  steps=40)[0], content, painting)
               for w in (0.1, 10.0)]
    (c_small, s_small), (c_large, s_large) = results
    assert c_large > 2 * c_small and s_large < 0.5 * s_small


def test_style_transfer_accepts_a_style_image_of_another_size():
    net, content = _small_net(), _images(1)
    x, hist = style.style_transfer(net, content, _images(2, size=24), steps=5)
    assert x.shape == content.shape and len(hist["style"]) <= 5


def test_style_transfer_errors():
    net, content, painting = _small_net(), _images(1), _images(2)
    with pytest.raises(ValueError, match=r"style_transfer: expected one content "
                                         r"image \(1, C, H, W\), got \(2, 3, 16, 16\)"):
        style.style_transfer(net, content.repeat(2, 1, 1, 1), painting)
    with pytest.raises(ValueError, match="style image has 1 channels and the "
                                         "content image 3"):
        style.style_transfer(net, content, painting[:, :1])
    with pytest.raises(ValueError, match=r"expected init of the content's shape "
                                         r"\(1, 3, 16, 16\), got \(1, 3, 8, 8\)"):
        style.style_transfer(net, content, painting, init=_images(3, size=8))
    with pytest.raises(ValueError, match="style_weight >= 0 and steps >= 1, got "
                                         "style_weight = -1"):
        style.style_transfer(net, content, painting, style_weight=-1)
    with pytest.raises(ValueError, match="block_average"):
        style.style_transfer(net, content, painting, pool=5)
    with pytest.raises(TypeError, match="style_transfer: expected floating-point"):
        style.style_transfer(net, content, (painting * 255).to(torch.uint8))

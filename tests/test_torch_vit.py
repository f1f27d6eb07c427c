"""Tests of dlbook.torch.models.vit: patches, class token, position embeddings,
shapes, parameter count and errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dlbook.torch.models import ViT, get_model, vit
from dlbook.torch.models.vit import PatchEmbedding, patchify

F64 = torch.float64


def count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(0)


def test_patchify_matches_a_loop_over_patches(gen):
    x = torch.randn(2, 3, 8, 12, generator=gen, dtype=F64)
    patches = patchify(x, 4)  # (2, 6, 48)
    assert patches.shape == (2, 6, 48)
    expected = torch.stack([
        torch.stack([x[n, :, i:i + 4, j:j + 4].reshape(-1)
                     for i in range(0, 8, 4) for j in range(0, 12, 4)])
        for n in range(2)
    ])
    assert torch.equal(patches, expected)


def test_patchify_agrees_with_torch_unfold(gen):
    x = torch.randn(3, 2, 6, 6, generator=gen, dtype=F64)
    unfolded = F.unfold(x, kernel_size=3, stride=3).transpose(1, 2)  # (N, L, C*P*P)
    assert torch.equal(patchify(x, 3), unfolded)


def test_patch_embedding_is_patchify_then_a_linear_map(gen):
    embed = PatchEmbedding(image_size=8, patch_size=4, in_channels=3,
                           embed_dim=5).double()
    x = torch.randn(2, 3, 8, 8, generator=gen, dtype=F64)
    W = embed.proj.weight.reshape(5, -1)  # (D, C*P*P): each filter flattened
    explicit = patchify(x, 4) @ W.T + embed.proj.bias  # (N, L, D)
    got = embed(x)
    assert got.shape == (2, 4, 5)
    assert torch.allclose(got, explicit, atol=1e-12, rtol=0)


def test_forward_shapes_and_documented_parameter_count():
    torch.manual_seed(0)
    model = vit()
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 3)
    assert count(model) == 20_931
    assert count(vit(image_size=16)) == 19_395
    small = vit(image_size=8, patch_size=2, in_channels=1, num_classes=10,
                embed_dim=16, num_heads=2, depth=1)
    assert small(torch.rand(4, 1, 8, 8)).shape == (4, 10)
    assert small.pos_embed.shape == (1, 1 + 16, 16)


def test_class_token_is_first_and_position_embedding_is_added(gen):
    torch.manual_seed(0)
    model = vit(image_size=8, patch_size=4, embed_dim=8, num_heads=2).double()
    with torch.no_grad():
        model.cls_token.normal_(generator=gen)
    x = torch.rand(3, 3, 8, 8, generator=gen, dtype=F64)
    h = model.tokens(x)  # (3, 5, 8)
    assert h.shape == (3, 5, 8)
    pos = model.pos_embed[0]
    # slot 0 is the class token (the same for every image), slots 1.. the patches
    assert torch.allclose(h[:, 0], (model.cls_token[0, 0] + pos[0]).expand(3, -1))
    assert torch.allclose(h[:, 1:], model.patch_embed(x) + pos[1:])


def test_output_is_read_from_the_class_token_only(gen):
    torch.manual_seed(0)
    model = vit(image_size=8, patch_size=4, embed_dim=8, num_heads=2).double().eval()
    x = torch.rand(2, 3, 8, 8, generator=gen, dtype=F64)
    seen = {}
    model.norm.register_forward_hook(lambda m, inp, out: seen.update(inp=inp[0]))
    out = model(x)
    # the head saw a (N, D) input: the final state of slot 0 only
    assert seen["inp"].shape == (2, 8)
    h = model.tokens(x)
    for block in model.blocks:
        h = block(h)
    assert torch.allclose(out, model.head(model.norm(h[:, 0])))


def _shuffled_patches(x, P, perm):
    """Images whose P x P patches are moved to the slots given by perm."""
    N, C, H, W = x.shape
    patches = patchify(x, P)[:, perm]  # (N, L, C*P*P), reordered
    grid = patches.reshape(N, H // P, W // P, C, P, P).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(N, C, H, W)


def test_shuffled_patches_helper_round_trips(gen):
    x = torch.rand(2, 3, 8, 8, generator=gen)
    assert torch.equal(_shuffled_patches(x, 4, torch.arange(4)), x)
    assert not torch.equal(_shuffled_patches(x, 4, torch.tensor([1, 0, 2, 3])), x)


def test_without_position_embeddings_patch_order_does_not_matter(gen):
    x = torch.rand(4, 3, 16, 16, generator=gen, dtype=F64)
    perm = torch.randperm(16, generator=gen)
    shuffled = _shuffled_patches(x, 4, perm)
    torch.manual_seed(0)
    bag = vit(image_size=16, patch_size=4, embed_dim=16, num_heads=2,
              pos_embedding=False).double().eval()
    assert bag.pos_embed is None
    assert torch.allclose(bag(x), bag(shuffled), atol=1e-12, rtol=0)
    # with position embeddings the same shuffle changes the output
    torch.manual_seed(0)
    ordered = vit(image_size=16, patch_size=4, embed_dim=16, num_heads=2).double()
    ordered.eval()
    assert (ordered(x) - ordered(shuffled)).abs().max() > 1e-4


def test_gradients_reach_class_token_and_position_embedding():
    torch.manual_seed(0)
    model = vit(image_size=8, patch_size=4, embed_dim=8, num_heads=2)
    model(torch.rand(2, 3, 8, 8)).square().sum().backward()
    assert model.cls_token.grad.abs().sum() > 0
    assert model.pos_embed.grad.abs().sum() > 0


def test_registry_builds_the_vit():
    model = get_model("vit", image_size=8, patch_size=2, in_channels=1,
                      num_classes=10)
    assert isinstance(model, ViT)
    assert model.head.out_features == 10


def test_image_size_must_be_divisible_by_the_patch_size():
    with pytest.raises(ValueError, match=r"ViT: image_size 30 is not divisible by "
                                         r"patch_size 4"):
        vit(image_size=30, patch_size=4)
    with pytest.raises(ValueError, match="PatchEmbedding: image_size 10"):
        PatchEmbedding(10, 4, 3, 8)
    with pytest.raises(ValueError, match=r"patchify: image size 6x8 is not "
                                         r"divisible by patch_size 4"):
        patchify(torch.zeros(1, 1, 6, 8), 4)


def test_wrong_channels_or_size_name_the_model_and_both_shapes():
    model = vit()
    with pytest.raises(ValueError) as err:
        model(torch.zeros(2, 1, 32, 32))
    msg = str(err.value)
    assert msg.startswith("ViT:")
    assert "(N, 3, 32, 32)" in msg and "(2, 1, 32, 32)" in msg
    assert "3-channel 32x32 images" in msg
    with pytest.raises(ValueError, match=r"ViT: expected input of shape "
                                         r"\(N, 3, 32, 32\), got \(2, 3, 28, 28\)"):
        model(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match=r"got \(3, 32, 32\)"):
        model(torch.zeros(3, 32, 32))  # a single image without its batch dimension

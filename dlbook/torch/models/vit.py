"""A small Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16
Words").

The image is cut into P x P patches; each patch is flattened and projected to a
D-dimensional token, a learned class token is put in front, a learned position
embedding is added, and a stack of pre-norm Transformer blocks
(:class:`dlbook.torch.nn.TransformerBlock`) mixes the tokens. The class is read
from the class token's final state::

    image (N, C, H, W) -> patches (N, L, C*P*P) -> tokens (N, L, D)
    [cls; tokens] + pos (N, 1 + L, D) -> blocks -> LayerNorm -> cls (N, D) -> head

Letters: N batch, C channels, H, W image height and width, P patch size,
L = (H/P)(W/P) number of patches, D embedding size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..nn.transformer import TransformerBlock
from ._checks import check_input

__all__ = ["patchify", "PatchEmbedding", "ViT", "vit"]


def patchify(x: Tensor, patch_size: int) -> Tensor:
    """Cut images into non-overlapping square patches, row by row.

    Args:
        x: images of shape (N, C, H, W), H and W multiples of ``patch_size``.
        patch_size: P, the side of each patch in pixels.

    Returns:
        Patches of shape (N, L, C*P*P), L = (H/P)(W/P), in reading order (left to
        right, then top to bottom); each patch is flattened channel first, as
        ``x[n, :, i:i+P, j:j+P].reshape(-1)`` would.
    """
    if x.dim() != 4:
        raise ValueError(f"patchify: expected images (N, C, H, W), got {tuple(x.shape)}")
    N, C, H, W = x.shape
    P = patch_size
    if H % P or W % P:
        raise ValueError(f"patchify: image size {H}x{W} is not divisible by "
                         f"patch_size {P}")
    x = x.reshape(N, C, H // P, P, W // P, P)  # (N, C, H/P, P, W/P, P)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (N, H/P, W/P, C, P, P)
    return x.reshape(N, (H // P) * (W // P), C * P * P)  # (N, L, C*P*P)


class PatchEmbedding(nn.Module):
    """(N, C, H, W) -> (N, L, D): one linear map applied to every P x P patch.

    A convolution with kernel size = stride = P visits each patch once and takes
    a dot product of its C*P*P pixels with each of D filters: that is exactly
    ``patchify`` followed by a ``Linear(C*P*P, D)`` whose weight is the filters
    flattened, computed in one fast call.
    """

    def __init__(self, image_size: int, patch_size: int, in_channels: int,
                 embed_dim: int):
        super().__init__()
        if patch_size < 1 or image_size % patch_size:
            raise ValueError(f"PatchEmbedding: image_size {image_size} is not "
                             f"divisible by patch_size {patch_size}")
        self.image_size, self.patch_size = image_size, patch_size
        self.in_channels = in_channels
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size,
                              stride=patch_size)

    def forward(self, x: Tensor) -> Tensor:
        s = self.image_size
        check_input(x, "PatchEmbedding", ("N", self.in_channels, s, s))
        x = self.proj(x)  # (N, D, H/P, W/P)
        return x.flatten(2).transpose(1, 2)  # (N, L, D), patches in reading order

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, patch_size={self.patch_size}"


class ViT(nn.Module):
    """Vision Transformer: ``(N, in_channels, S, S)`` -> ``(N, num_classes)``.

    ``pos_embedding=False`` leaves out the position embedding: the model then sees
    the patches as an unordered set, and permuting them changes nothing.
    """

    def __init__(self, image_size: int = 32, patch_size: int = 4,
                 in_channels: int = 3, num_classes: int = 3, embed_dim: int = 32,
                 depth: int = 2, num_heads: int = 2, mlp_ratio: int = 2,
                 dropout: float = 0.0, pos_embedding: bool = True):
        super().__init__()
        if patch_size < 1 or image_size % patch_size:
            raise ValueError(f"ViT: image_size {image_size} is not divisible by "
                             f"patch_size {patch_size}; pick a patch size that "
                             f"divides it")
        self.image_size, self.in_channels = image_size, in_channels
        self.patch_embed = PatchEmbedding(image_size, patch_size, in_channels,
                                          embed_dim)
        L = self.patch_embed.num_patches
        # The class token attends to every patch and is the only output read: a
        # learned summary slot, as BERT's [CLS] (Devlin et al. 2019).
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        if pos_embedding:  # one learned vector per slot: the class token + L patches
            self.pos_embed = nn.Parameter(torch.zeros(1, 1 + L, embed_dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            self.register_parameter("pos_embed", None)
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, dropout=dropout, mlp_ratio=mlp_ratio)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)

    def tokens(self, x: Tensor) -> Tensor:
        """The input of the first block: (N, C, S, S) -> (N, 1 + L, D), class
        token first, position embedding added."""
        s = self.image_size
        check_input(x, "ViT", ("N", self.in_channels, s, s),
                    hint=f"this ViT was built for {self.in_channels}-channel "
                         f"{s}x{s} images")
        patches = self.patch_embed(x)  # (N, L, D)
        cls = self.cls_token.expand(len(x), -1, -1)  # (N, 1, D)
        h = torch.cat([cls, patches], dim=1)  # (N, 1 + L, D)
        return h if self.pos_embed is None else h + self.pos_embed

    def forward(self, x: Tensor) -> Tensor:
        h = self.tokens(x)  # (N, 1 + L, D)
        for block in self.blocks:
            h = block(h)  # (N, 1 + L, D)
        return self.head(self.norm(h[:, 0]))  # the class token: (N, num_classes)


def vit(image_size: int = 32, patch_size: int = 4, in_channels: int = 3,
        num_classes: int = 3, embed_dim: int = 32, depth: int = 2,
        num_heads: int = 2, mlp_ratio: int = 2, dropout: float = 0.0,
        pos_embedding: bool = True) -> ViT:
    """A small ViT for chapter 8's shapes: ``(N, 3, 32, 32)`` -> ``(N, 3)`` at the
    defaults, 64 patches of 4x4; ``image_size=16`` gives 16 patches.

    20,931 parameters at the defaults: 1,568 in the patch embedding, 32 in the
    class token, 2,080 in the position embedding (65 slots), 2 x 8,544 in the
    blocks, 64 in the final LayerNorm and 99 in the head; 19,395 with
    ``image_size=16``.
    """
    return ViT(image_size, patch_size, in_channels, num_classes, embed_dim, depth,
               num_heads, mlp_ratio, dropout, pos_embedding)

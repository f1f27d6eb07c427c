"""Chapter 7's diagrams: each returns a Figure whose text labels do not overlap."""

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
from diagram_checks import book_style, draw_on_a_page  # noqa: E402, F401

from dlbook import diagrams  # noqa: E402


@pytest.mark.parametrize("draw", [
    diagrams.qkv_attention,
    lambda: diagrams.qkv_attention(masked=False),
    diagrams.multi_head_attention,
    lambda: diagrams.multi_head_attention(heads=2),
    lambda: diagrams.multi_head_attention(heads=4),
    diagrams.transformer_block,
    lambda: diagrams.transformer_block(masked=False),
    diagrams.encoder_decoder,
    diagrams.data_parallel,
    diagrams.tensor_parallel_mlp,
    diagrams.modern_block,
])
def test_attention_diagrams_draw_without_overlapping_text(draw):
    fig = draw_on_a_page(draw(), max_width=6.5)
    sizes = [t.get_fontsize() for t in fig.axes[0].texts]
    assert sizes and min(sizes) >= 9       # readable at phone width


def test_diagrams_show_the_shapes_they_promise():
    texts = {t.get_text() for t in diagrams.qkv_attention().axes[0].texts}
    assert {"(T, d_k)", "(S, d_k)", "(S, d_v)", "(T, d_v)"} <= texts
    texts = {t.get_text() for t in diagrams.multi_head_attention().axes[0].texts}
    assert "Q, K, V: (T, d_k)" in texts and "(T, h·d_k) = (T, d_model)" in texts


def test_multi_head_attention_refuses_a_head_count_it_cannot_draw():
    with pytest.raises(ValueError, match="multi_head_attention: heads must be 2 to 4"):
        diagrams.multi_head_attention(heads=7)


def test_modern_block_names_each_change_beside_gpt2s_part():
    texts = {t.get_text() for t in diagrams.modern_block().axes[0].texts}
    assert {"LayerNorm", "RMSNorm", "MLP, GELU\nd → 4d → d",
            "SwiGLU MLP\nd → 8d/3 → d", "grouped-query\nattention, RoPE"} <= texts

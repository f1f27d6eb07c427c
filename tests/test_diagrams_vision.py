"""Chapter 8's diagrams (R-CNN pipelines, U-Net) and its one colour per class."""

import matplotlib

matplotlib.use("Agg")
import pytest  # noqa: E402
from diagram_checks import book_style, draw_on_a_page  # noqa: E402, F401

from dlbook import diagrams, plot  # noqa: E402
from dlbook.data import SHAPE_BACKGROUND_COLOR, SHAPE_CLASS_COLORS, SHAPE_CLASSES  # noqa: E402


def _texts(fig):
    return [t.get_text() for t in fig.axes[0].texts]


@pytest.mark.parametrize("draw", [diagrams.rcnn_pipelines, diagrams.unet])
def test_diagram_is_a_figure_without_overlapping_text_and_fits_a_page(draw):
    fig = draw_on_a_page(draw(), max_width=6.5)
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 9


def test_rcnn_diagram_writes_the_pages_shapes():
    texts = _texts(diagrams.rcnn_pipelines())
    # R-CNN runs the CNN on K warped crops, Fast R-CNN once on the image
    assert "(K, 3, 32, 32)" in texts and "(1, 64, 16, 16)" in texts
    assert texts.count("(K, 64, 8, 8)") == 2  # both hand the heads the same shape
    with pytest.raises(ValueError, match="rcnn_pipelines: crop and image_size"):
        diagrams.rcnn_pipelines(crop=30)


def test_unet_diagram_shapes_follow_the_channel_plan():
    texts = _texts(diagrams.unet(width=16, size=64))
    # concatenation doubles the channels of the upsampled map
    assert "(32, 32, 32)" in texts and "(64, 32, 32)" in texts
    assert "(16, 64, 64)" in texts and "(4, 64, 64)" in texts
    with pytest.raises(ValueError, match="unet: size must be divisible by 4"):
        diagrams.unet(size=30)


def test_one_colour_per_shape_class_all_distinct_okabe_ito():
    assert len(SHAPE_CLASS_COLORS) == len(SHAPE_CLASSES)
    colours = [c.upper() for c in SHAPE_CLASS_COLORS]
    assert len(set(colours + [SHAPE_BACKGROUND_COLOR.upper()])) == 4
    assert set(colours) <= {c.upper() for c in plot.COLORS}

"""Would dlbook.torch run unchanged on a GPU? Proxies that run on a CPU.

**The meta device.** A tensor on ``meta`` has a shape, a dtype and a device but
no data. Every model and tensor function below runs with its inputs (and the
model's parameters) on ``meta``: a tensor that the code creates without the
input's device lands on the CPU, and mixing it with a meta tensor raises "Tensor
on device cpu is not on the expected device meta", the error a CUDA run hits
with "cuda:0" in place of "meta". (A 0-dim CPU tensor mixes with either, as on
CUDA.) Meta kernels do not check every argument (``F.embedding`` of a meta
weight takes CPU indices, which CUDA refuses), so these tests also run under
:class:`_OneDevice`, which refuses any torch call that gets tensors on two
devices. Checked by taking ``device=`` out of the causal masks of
``TransformerBlock`` and ``_sdpa_mask`` and out of ``GPT.features``'s positions:
each makes tests here fail.

**Host reads.** On a GPU, ``.item()``, ``.tolist()``, ``.cpu()`` and
``bool(tensor)`` wait for the device and copy to the host. :class:`_HostReads`
counts those that dlbook's code makes; one per element or per step in a loop
makes a GPU run wait at every iteration (and an element used to index a CPU
tensor fails there).

**bf16 autocast.** ``torch.autocast("cpu", dtype=torch.bfloat16)`` applies the
casting rules of CUDA autocast to matmuls, linear layers and convolutions: the
models and attention functions give finite outputs of the dtypes asserted below.

Not run on meta (they need values: ``.item()``, ``.tolist()``, ``bool()``,
data-dependent shapes), covered by reading, and where they loop, by the host-read
counts:

* ``nn.roi_pool`` (``.tolist()`` of the boxes, per-box slicing; boxes on another
  device than the features get a clear error, tested in test_torch_nn.py);
* ``detection.nms``, ``batched_nms`` (``torch.unique``, ``nonzero``),
  ``precision_recall``, ``mean_average_precision``, ``average_precision``;
* ``segmentation.confusion_matrix``, ``mean_iou`` (range checks, ``bincount``);
* ``train.fit``, ``evaluate``, ``accuracy``, ``ArrayLoader`` (``.item()`` of the
  loss and metrics; ``ArrayLoader`` draws its order with a CPU generator and
  moves it, which is right on any device);
* ``interpret.synthesize_texture`` (loss values; its noise comes from a CPU
  generator and is moved with ``.to(target)``);
* ``GPT.generate`` with a ``generator``: meta has no generators, and meta's
  ``multinomial`` ignores a CPU generator that CUDA refuses. ``generate`` itself
  refuses a generator on another device than ``idx``, with a clear error
  (tested in test_torch_gpt.py); the notebooks pass ``torch.Generator(device)``.
"""

from __future__ import annotations

import os
import sys

import pytest
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

import dlbook.torch.nn as dtnn
from dlbook.torch import detection, interpret, segmentation
from dlbook.torch.models import GPT, GPTConfig, get_model

pytestmark = pytest.mark.usefixtures("torch_one_thread")

META = torch.device("meta")


def _meta(*shape, dtype=torch.float32):
    return torch.empty(*shape, device=META, dtype=dtype)


class _OneDevice(TorchFunctionMode):
    """Raises when one torch call gets tensors on two devices.

    Meta kernels do not check every argument (``F.embedding`` of a meta weight
    takes CPU indices, which CUDA refuses), so the meta tests also run under
    this mode. As on CUDA, a 0-dim CPU tensor mixes with any device; the calls
    that move tensors (``to``, ``copy_``) are what moving means.
    """

    MOVES = frozenset({"to", "copy_", "cpu", "new_tensor", "__get__", "__set__"})

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") not in self.MOVES:
            devices = set()
            for a in list(args) + list(kwargs.values()):
                for t in (a if isinstance(a, (list, tuple)) else [a]):
                    if isinstance(t, torch.Tensor) and not (
                            t.dim() == 0 and t.device.type == "cpu"):
                        devices.add(t.device.type)
            if len(devices) > 1:
                raise RuntimeError(
                    f"{getattr(func, '__name__', func)} got tensors on "
                    f"{sorted(devices)}"
                )
        return func(*args, **kwargs)


@pytest.fixture(autouse=True)
def _one_device_on_meta(request):
    """Every ``*_on_meta`` test runs under :class:`_OneDevice`."""
    if request.node.name.split("[")[0].endswith("on_meta"):
        with _OneDevice():
            yield
    else:
        yield


def _on_meta(out):
    """Every tensor in a (nested) output lives on meta."""
    if isinstance(out, torch.Tensor):
        return out.device == META
    if isinstance(out, (tuple, list)):
        return all(_on_meta(o) for o in out if o is not None)
    return True


# ----------------------------------------------------------------- model zoo

# small inputs that every model of the zoo accepts
ZOO_INPUTS = {
    "lenet5": (2, 1, 32, 32),
    "alexnet": (2, 3, 63, 63),
    "vgg11": (2, 3, 32, 32), "vgg13": (2, 3, 32, 32),
    "vgg16": (2, 3, 32, 32), "vgg19": (2, 3, 32, 32),
    "googlenet": (2, 3, 32, 32),
    "resnet18": (2, 3, 32, 32), "resnet34": (2, 3, 32, 32),
    "resnet50": (2, 3, 32, 32), "resnet101": (2, 3, 32, 32),
    "resnet152": (2, 3, 32, 32),
    "digits_mlp": (2, 64), "digits_cnn": (2, 1, 8, 8),
    "small_cnn": (2, 1, 28, 28), "small_resnet": (2, 1, 28, 28),
    "mnist1d_logistic": (2, 40), "mnist1d_mlp": (2, 40),
    "mnist1d_cnn": (2, 40), "mnist1d_gru": (2, 40),
    "shapes_cnn": (2, 3, 32, 32), "vit": (2, 3, 32, 32),
}


def test_zoo_inputs_cover_every_model():
    from dlbook.torch.models import list_models

    assert sorted(ZOO_INPUTS) == sorted(list_models())


@pytest.mark.parametrize("name", sorted(ZOO_INPUTS))
@pytest.mark.parametrize("training", [False, True])
def test_zoo_forward_on_meta(name, training):
    with META:
        model = get_model(name)
    model.train(training)
    x = _meta(*ZOO_INPUTS[name])
    out = model(x)
    logits = out.logits if hasattr(out, "logits") else out
    assert logits.device == META and logits.shape[0] == x.shape[0]


def test_googlenet_aux_heads_on_meta():
    with META:
        model = get_model("googlenet", aux_logits=True, num_classes=5)
    out = model.train()(_meta(2, 3, 64, 64))
    assert all(t.device == META and t.shape == (2, 5) for t in out)


def _tiny_gpt(**kw):
    cfg = GPTConfig(block_size=8, vocab_size=11, n_layer=2, n_head=2, n_embd=8, **kw)
    return GPT(cfg)


@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_gpt_forward_and_loss_on_meta(dropout):
    with META:
        gpt = _tiny_gpt(dropout=dropout)
    idx = _meta(3, 8, dtype=torch.long)
    logits, loss = gpt(idx, idx)
    assert logits.device == META and logits.shape == (3, 8, 11)
    assert loss.device == META and loss.shape == () and loss.dtype == torch.float32
    assert gpt.features(idx).shape == (3, 8, 8)


@pytest.mark.parametrize("top_k", [None, 3])
def test_gpt_generate_on_meta(top_k):
    with META:
        gpt = _tiny_gpt().eval()
    out = gpt.generate(_meta(2, 3, dtype=torch.long), 7, top_k=top_k)
    assert out.device == META and out.shape == (2, 10)  # past block_size 8


def test_unet_and_texture_net_on_meta():
    with META:
        unet = segmentation.UNet(3, 4, width=4, depth=2)
        tex = interpret.RandomTextureNet(kernel_sizes=(3, 5), channels=4)
    assert unet(_meta(2, 3, 16, 16)).shape == (2, 4, 16, 16)
    feats = tex(_meta(1, 3, 12, 12))
    assert [f.shape for f in feats] == [(1, 4, 12, 12)] * 2 and _on_meta(feats)
    assert interpret.texture_loss(feats, [interpret.gram_matrix(f)
                                          for f in feats]).device == META


# ------------------------------------------------------- teaching modules


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_recurrent_layers_on_meta(cls, bidirectional):
    extra = {"proj_size": 3} if cls == "LSTM" else {}
    with META:
        layer = getattr(dtnn, cls)(4, 5, num_layers=2, batch_first=True,
                                  bidirectional=bidirectional, dropout=0.5, **extra)
    out = layer.train()(_meta(2, 6, 4))  # no hx: the zeros come from the input
    assert _on_meta(out)
    out = layer(_meta(6, 4))  # unbatched
    assert _on_meta(out)


@pytest.mark.parametrize("cls", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cells_on_meta(cls):
    with META:
        cell = getattr(dtnn, cls)(4, 5)
    assert _on_meta(cell(_meta(3, 4)))
    assert _on_meta(cell(_meta(4)))


def test_attention_functions_on_meta():
    q, k, v = _meta(2, 3, 5, 8), _meta(2, 3, 7, 8), _meta(2, 3, 7, 6)
    bool_mask = torch.ones(5, 7, dtype=torch.bool, device=META)
    float_mask = _meta(5, 7)
    for fn in (dtnn.scaled_dot_product_attention_naive,
               dtnn.scaled_dot_product_attention):
        assert fn(q, k, v).device == META
        assert fn(q, k, v, is_causal=True).shape == (2, 3, 5, 6)
        assert fn(q, k, v, attn_mask=bool_mask).device == META
        assert fn(q, k, v, attn_mask=float_mask).device == META


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("extras", [{}, {"add_bias_kv": True, "add_zero_attn": True},
                                    {"kdim": 6, "vdim": 7}])
def test_multihead_attention_on_meta(batch_first, extras):
    with META:
        mha = dtnn.MultiheadAttention(8, 2, dropout=0.1, batch_first=batch_first,
                                     **extras)
    kd, vd = extras.get("kdim", 8), extras.get("vdim", 8)
    q = _meta(2, 5, 8) if batch_first else _meta(5, 2, 8)
    k = _meta(2, 7, kd) if batch_first else _meta(7, 2, kd)
    v = _meta(2, 7, vd) if batch_first else _meta(7, 2, vd)
    kpm = torch.zeros(2, 7, dtype=torch.bool, device=META)
    mask = torch.zeros(5, 7, dtype=torch.bool, device=META)
    y, w = mha(q, k, v, key_padding_mask=kpm, attn_mask=mask)
    assert _on_meta((y, w))
    causal = torch.ones(5, 5, dtype=torch.bool, device=META).triu(1)
    y, w = (mha(q, q, q, attn_mask=causal, is_causal=True) if not extras.get("kdim")
            else (y, w))  # as in torch, is_causal is a hint that needs the mask
    assert _on_meta((y, w))
    y, w = mha(q[:, 0] if batch_first else q[0], k[:, 0] if batch_first else k[0],
               v[:, 0] if batch_first else v[0])  # unbatched
    assert _on_meta((y, w))


@pytest.mark.parametrize("causal", [False, True])
def test_transformer_block_on_meta(causal):
    with META:
        block = dtnn.TransformerBlock(8, 2, dropout=0.1, causal=causal)
    kpm = torch.zeros(2, 5, dtype=torch.bool, device=META)
    assert block(_meta(2, 5, 8), key_padding_mask=kpm).device == META


def test_positional_encoding_and_conv_on_meta():
    pe = dtnn.sinusoidal_positional_encoding(10, 6, device=META)
    assert pe.device == META and pe.shape == (10, 6)
    with META:
        mod = dtnn.SinusoidalPositionalEncoding(6, max_len=10, dropout=0.1)
        conv = dtnn.Conv2d(3, 4, 3, padding=1)
    assert mod(_meta(2, 7, 6)).device == META
    assert conv(_meta(2, 3, 8, 8)).shape == (2, 4, 8, 8)
    w, b = _meta(4, 3, 3, 3), _meta(4)
    assert dtnn.conv2d_unfold(_meta(2, 3, 8, 8), w, b, stride=2).device == META


# ------------------------------------------------------- tensor functions


def test_box_functions_on_meta():
    a, b = _meta(5, 4), _meta(3, 4)
    assert detection.box_area(a).device == META
    assert detection.box_iou(a, b).shape == (5, 3)
    assert detection.box_iou(a, b).device == META
    assert detection.encode_boxes(a, _meta(5, 4)).device == META
    assert detection.decode_boxes(a, _meta(5, 4)).device == META


def test_iou_per_class_and_gram_on_meta():
    cm = _meta(4, 4, dtype=torch.long)
    iou = segmentation.iou_per_class(cm)
    assert iou.device == META and iou.dtype == torch.float64
    assert interpret.gram_matrix(_meta(2, 3, 4, 5)).shape == (2, 3, 3)


def test_saliency_and_fgsm_on_meta():
    with META:
        model = get_model("shapes_cnn").eval()
    x = _meta(2, 3, 16, 16)
    assert interpret.saliency(model, x).shape == (2, 16, 16)
    assert interpret.saliency(model, x, target=[0, 2]).device == META
    y = _meta(2, dtype=torch.long)
    assert interpret.fgsm(model, x, y, 0.1).device == META
    maps = interpret.feature_maps(model, x, ["relu1", "gmax"])
    assert _on_meta(list(maps.values()))


# ------------------------------------------------------------ bf16 autocast

BF16 = torch.bfloat16


def _autocast():
    return torch.autocast("cpu", dtype=BF16)


def _finite(t):
    return bool(torch.isfinite(t.float()).all())


# the small models, and two full-size designs at 10 classes (32x32 inputs)
AMP_MODELS = ["lenet5", "digits_mlp", "digits_cnn", "small_cnn", "small_resnet",
              "mnist1d_logistic", "mnist1d_mlp", "mnist1d_cnn", "mnist1d_gru",
              "shapes_cnn", "resnet18", "googlenet"]


@pytest.mark.parametrize("name", AMP_MODELS)
@pytest.mark.parametrize("training", [False, True])
def test_zoo_under_bf16_autocast(name, training):
    """Logits come out of a Linear layer, so autocast makes them bf16."""
    torch.manual_seed(0)
    kw = {"num_classes": 10} if name in ("resnet18", "googlenet") else {}
    model = get_model(name, **kw).train(training)
    with _autocast():
        out = model(torch.rand(*ZOO_INPUTS[name]))
        loss = F.cross_entropy(out, torch.tensor([0, 1]))
    assert out.dtype == BF16 and _finite(out)
    assert loss.dtype == torch.float32 and _finite(loss)  # autocast: fp32 loss
    loss.backward()
    assert all(p.grad.dtype == torch.float32 and _finite(p.grad)
               for p in model.parameters() if p.grad is not None)


def test_gpt_under_bf16_autocast():
    """bf16 logits; the loss is computed in float32 (GPT.forward's ``.float()``)."""
    torch.manual_seed(0)
    gpt = _tiny_gpt()
    idx = torch.randint(0, 11, (2, 8))
    with _autocast():
        logits, loss = gpt(idx, idx)
    assert logits.dtype == BF16 and _finite(logits)
    assert loss.dtype == torch.float32 and _finite(loss)
    loss.backward()
    assert gpt.lm_head.weight.grad.dtype == torch.float32
    with _autocast():
        out = gpt.eval().generate(idx[:, :2], 3, top_k=4,
                                  generator=torch.Generator().manual_seed(0))
    assert out.dtype == torch.long and out.shape == (2, 5)


def test_unet_under_bf16_autocast():
    torch.manual_seed(0)
    with _autocast():
        out = segmentation.UNet(3, 4, width=4).train()(torch.rand(2, 3, 16, 16))
    assert out.dtype == BF16 and _finite(out)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_under_bf16_autocast(causal):
    """Attention output is bf16 (the matmuls run in bf16) and matches float32
    to bf16 precision; the fully masked rows that a -inf mask could give do
    not arise with a causal mask, so no nan."""
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 8)
    for fn in (dtnn.scaled_dot_product_attention_naive,
               dtnn.scaled_dot_product_attention):
        ref = fn(q, k, v, is_causal=causal)
        with _autocast():
            out = fn(q, k, v, is_causal=causal)
        assert out.dtype == BF16 and _finite(out), fn.__name__
        torch.testing.assert_close(out.float(), ref, atol=0.05, rtol=0.05)
    mha = dtnn.MultiheadAttention(8, 2, batch_first=True)
    kpm = torch.zeros(3, 5, dtype=torch.bool)
    kpm[:, -1] = True
    # as in torch, is_causal is a hint that comes with the mask it describes
    mask = torch.ones(5, 5, dtype=torch.bool).triu(1) if causal else None
    with _autocast():
        y, w = mha(q[0], k[0], v[0], key_padding_mask=kpm, attn_mask=mask,
                   is_causal=causal)
    assert y.dtype == BF16 and _finite(y) and _finite(w)
    y_ref, _ = mha(q[0], k[0], v[0], key_padding_mask=kpm, attn_mask=mask,
                   is_causal=causal)
    torch.testing.assert_close(y.float(), y_ref, atol=0.05, rtol=0.05)


def test_transformer_block_under_bf16_autocast():
    """The residual stream keeps the input's float32: x + bf16 sublayer output."""
    torch.manual_seed(0)
    block = dtnn.TransformerBlock(8, 2, causal=True)
    x = torch.randn(2, 5, 8)
    with _autocast():
        out = block(x)
    assert out.dtype == torch.float32 and _finite(out)
    torch.testing.assert_close(out, block(x), atol=0.05, rtol=0.05)


@pytest.mark.parametrize("cls", ["RNN", "GRU", "LSTM"])
def test_recurrent_layers_under_bf16_autocast(cls):
    """The matmuls run in bf16. RNN's state is then bf16; GRU's and LSTM's mix
    it with the float32 zero state (``(1 - z) * n + z * h``, ``f * c``), so
    their outputs stay float32. (torch.nn.LSTM on a CPU gives bf16 here: a
    documented difference, not an error; the next Linear casts anyway.)"""
    torch.manual_seed(0)
    layer = getattr(dtnn, cls)(4, 5, num_layers=2)
    x = torch.randn(6, 2, 4)
    with _autocast():
        out, _ = layer(x)
    want = BF16 if cls == "RNN" else torch.float32
    assert out.dtype == want and _finite(out)
    torch.testing.assert_close(out.float(), layer(x)[0], atol=0.05, rtol=0.05)


# ------------------------------------------------------------ host reads

READS = {"__bool__", "item", "tolist", "__float__", "__int__", "__index__", "numpy",
         "cpu"}


class _HostReads(TorchFunctionMode):
    """Counts the calls made from dlbook's code that, on a GPU, wait for the
    device and copy to the host. (torch's own reads are left out: Adam reads
    its step counter, which lives on the CPU on every device.)"""

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in READS:
            caller = sys._getframe(1).f_code.co_filename
            if f"{os.sep}dlbook{os.sep}" in caller:
                self.count += 1
        return func(*args, **(kwargs or {}))


def _random_boxes(gen, n, size=50.0):
    xy = torch.rand(n, 2, generator=gen) * size
    wh = 2 + torch.rand(n, 2, generator=gen) * 15
    return torch.cat([xy, xy + wh], dim=1)


def _nms_reference(boxes, scores, thr):
    """The greedy loop read element by element (the version before the fix)."""
    order = torch.sort(scores, descending=True, stable=True).indices
    iou = detection.box_iou(boxes, boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= iou[i] > thr
    return torch.tensor(keep, dtype=torch.int64)


def test_nms_reads_the_host_a_fixed_number_of_times():
    gen = torch.Generator().manual_seed(0)
    boxes, scores = _random_boxes(gen, 60), torch.rand(60, generator=gen)
    for thr in (0.0, 0.3, 0.7):
        with _HostReads() as reads:
            keep = detection.nms(boxes, scores, thr)
        assert reads.count <= 3, f"{reads.count} host reads for 60 boxes"
        assert torch.equal(keep, _nms_reference(boxes, scores, thr))


def _precision_recall_reference(pred_boxes, pred_scores, gt_boxes, thr):
    """The loop before the fix: per detection, a 0-dim max and CPU flags."""
    records = []
    for i, s in enumerate(pred_scores):
        records += [(float(v), i, k) for k, v in enumerate(s.tolist())]
    records.sort(key=lambda t: -t[0])
    ious = [detection.box_iou(b, g) if len(b) and len(g) else None
            for b, g in zip(pred_boxes, gt_boxes)]
    claimed = [torch.zeros(len(g), dtype=torch.bool) for g in gt_boxes]
    tp = torch.zeros(len(records), dtype=torch.float64)
    for d, (_, i, k) in enumerate(records):
        if ious[i] is None:
            continue
        best_iou, j = ious[i][k].max(0)
        if best_iou >= thr and not claimed[i][j]:
            claimed[i][j] = True
            tp[d] = 1.0
    return tp


def test_precision_recall_reads_the_host_per_image_not_per_detection():
    gen = torch.Generator().manual_seed(1)
    n_images = 3
    gt = [_random_boxes(gen, 5) for _ in range(n_images)]
    # detections near the objects (some duplicates), plus an image with none
    preds = [torch.cat([g + torch.randn(g.shape, generator=gen), g[:2]]) for g in gt]
    preds[2] = preds[2][:0]
    scores = [torch.rand(len(p), generator=gen) for p in preds]
    for thr in (0.3, 0.5, 0.7):
        with _HostReads() as reads:
            precision, recall, _ = detection.precision_recall(preds, scores, gt, thr)
        assert reads.count <= 3 * n_images, f"{reads.count} host reads"
        tp = _precision_recall_reference(preds, scores, gt, thr)
        assert 0 < tp.sum() < len(tp)  # both outcomes occur
        torch.testing.assert_close(recall, torch.cumsum(tp, 0) / 15, rtol=0, atol=0)
        assert precision.dtype == recall.dtype == torch.float64


def test_generate_anchors_on_a_device():
    kw = {"stride": 4, "sizes": (8, 16), "aspect_ratios": (0.5, 1, 2)}
    on_meta = detection.generate_anchors((3, 5), device=META, **kw)
    on_cpu = detection.generate_anchors((3, 5), **kw)
    assert on_meta.device == META and on_meta.shape == on_cpu.shape == (90, 4)
    assert on_meta.dtype == on_cpu.dtype == torch.float32
    # anchors on the predictions' device encode and decode there
    deltas = detection.encode_boxes(on_meta, _meta(90, 4))
    assert detection.decode_boxes(on_meta, deltas).device == META


# ------------------------------------------------------------ training loop


def test_evaluate_refuses_a_device_the_model_is_not_on():
    from dlbook.torch import evaluate

    model = torch.nn.Linear(3, 2)
    data = (torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"parameters are on cpu but device=meta"):
        evaluate(model, data, device="meta")
    assert next(model.parameters()).device.type == "cpu"  # not moved
    assert set(evaluate(model, data, device="cpu")) == {"loss", "accuracy"}


class _RecordTo(TorchFunctionMode):
    """Records the ``non_blocking`` of every ``Tensor.to`` and skips the copy."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") == "to":
            self.calls.append((args[1:], (kwargs or {}).get("non_blocking")))
            return args[0]
        return func(*args, **(kwargs or {}))


def test_batches_copy_to_the_cpu_blocking():
    """A GPU batch copied to the CPU without blocking may be read before it
    arrives; towards an accelerator, non_blocking lets the copy overlap."""
    from dlbook.torch.train import _to

    x = _meta(2, 3)
    with _RecordTo() as rec:
        _to((x, x), torch.device("cpu"))
        _to(x, torch.device("meta"))
    assert [nb for _, nb in rec.calls] == [False, False, True]


def test_synthesize_texture_reads_the_losses_once():
    """The loss of every step, read to the host once (not once per step), with
    the values that ``.item()`` at each step gave."""
    torch.manual_seed(0)
    net = interpret.RandomTextureNet(kernel_sizes=(3,), channels=4)
    target = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    with _HostReads() as reads:
        image, losses = interpret.synthesize_texture(net, target, steps=12, seed=0)
    assert reads.count <= 1, f"{reads.count} host reads for 12 steps"
    assert len(losses) == 13 and all(isinstance(v, float) for v in losses)
    x = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(0))
    grams = [interpret.gram_matrix(f) for f in net(target)]
    with torch.no_grad():
        assert losses[0] == interpret.texture_loss(net(x), grams).item()
        assert losses[-1] == interpret.texture_loss(net(image), grams).item()
    assert losses[-1] < losses[0]

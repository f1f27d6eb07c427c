"""How fast is dlbook.torch.nn.roi_pool against the other ways to write it?

    python benchmarks/roi_pool.py [--repeats 20] [--device cpu] [--json out.json]
                                  [--workloads book,vgg]

Two workloads, both float32, one thread on the CPU (``torch.set_num_threads(1)``,
so the ratios do not depend on the machine's core count):

* ``book``: chapter 8's Fast R-CNN page. One 16-channel 16x16 feature map
  (a 64x64 image at stride 4), 91 proposals of 8 to 40 pixels, pooled to 8x8.
* ``vgg``: the Fast R-CNN paper's training shape. One 512-channel conv5 map of
  a 600x800 image (38x50 cells at stride 16), 128 proposals (the paper's
  mini-batch of RoIs), pooled to 7x7.

Implementations, each timed forward and forward + backward: the median of
``--repeats`` runs after ``--warmup``, or of fewer (at least 3) once a case has
run for ``--budget`` seconds, so the slow baselines do not take minutes:

* ``dlbook``: the library. A loop over boxes, each box's cells through
  ``adaptive_max_pool2d`` with ``return_indices``; the backward pass is one
  ``index_add`` of the gradients at those indices.
* ``masked``: the library's previous version (up to commit 07cc1ae), kept here
  as the baseline: boolean masks over the whole map, one column of bins at a
  time, so it touches K x C x H x W values per column of bins.
* ``slices``: the same loop as ``dlbook`` but with autograd through the slices,
  whose backward writes a zero map the size of the features for every box.
  Matches roi_pool only for boxes inside the map (the workloads' boxes are).
* ``torchvision``: its C++/CUDA kernel, when torchvision is importable.

Every implementation's output is checked equal to the library's before timing.
The printed ratios are each implementation's time over ``dlbook``'s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlbook.torch.nn import roi_pool  # noqa: E402
from dlbook.torch.nn.roi import _bin_edges, _round_half_away  # noqa: E402


def masked_roi_pool(features, boxes, output_size, spatial_scale):
    """The library's roi_pool before the per-box version (commit 07cc1ae), with
    the exact bin edges of the current one so that the outputs are comparable."""
    ph, pw = output_size
    H, W = features.shape[2:]
    b = boxes[:, 0].long()
    corners = _round_half_away(boxes[:, 1:].to(torch.float64) * spatial_scale).long()
    x1, y1, x2, y2 = corners.unbind(1)

    def masks(start, length, n, size):
        lo, hi = _bin_edges(start, length, n, size)  # (K, n) each
        cells = torch.arange(size, device=start.device)
        return (cells >= lo[..., None]) & (cells < hi[..., None]), hi <= lo

    mask_h, empty_h = masks(y1, (y2 - y1 + 1).clamp(min=1), ph, H)
    mask_w, empty_w = masks(x1, (x2 - x1 + 1).clamp(min=1), pw, W)
    feats = features[b]
    neg = torch.finfo(features.dtype).min
    cols = [feats.masked_fill(~mask_w[:, j][:, None, None, :], neg).amax(dim=-1)
            for j in range(pw)]
    colmax = torch.stack(cols, dim=-1)
    out = colmax[:, :, None].masked_fill(~mask_h[:, None, :, :, None], neg).amax(dim=3)
    empty = empty_h[:, :, None] | empty_w[:, None, :]
    return out.masked_fill(empty[:, None], 0.0)


def sliced_roi_pool(features, boxes, output_size, spatial_scale):
    """One box at a time: slice its cells, adaptive max pooling (inside boxes only)."""
    cells = torch.floor(boxes[:, 1:] * spatial_scale + 0.5).long().tolist()
    out = []
    for b, (x1, y1, x2, y2) in zip(boxes[:, 0].long().tolist(), cells):
        block = features[b, :, y1:max(y2, y1) + 1, x1:max(x2, x1) + 1]
        out.append(F.adaptive_max_pool2d(block, output_size))
    return torch.stack(out)


def workload(name: str, device: torch.device):
    g = torch.Generator().manual_seed(0)
    if name == "book":
        C, H, W, K, out, scale = 16, 16, 16, 91, (8, 8), 1 / 4
        lo_size, hi_size = 8, 40
    else:
        C, H, W, K, out, scale = 512, 38, 50, 128, (7, 7), 1 / 16
        lo_size, hi_size = 32, 600
    features = torch.randn(1, C, H, W, generator=g)
    size = lo_size + torch.rand(K, 2, generator=g) * (hi_size - lo_size)
    limit = torch.tensor([W - 1, H - 1]) / scale  # maps to the last cell
    size = torch.minimum(size, limit)
    xy1 = torch.rand(K, 2, generator=g) * (limit - size)
    boxes = torch.cat([torch.zeros(K, 1), xy1, xy1 + size], dim=1)
    return features.to(device), boxes.to(device), out, scale


def timed(fn, repeats, warmup, device, budget):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    while len(times) < repeats and (len(times) < 3 or sum(times) < budget):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--budget", type=float, default=2.0,
                   help="seconds per case after which to stop repeating (min 3 runs)")
    p.add_argument("--workloads", default="book,vgg",
                   help="comma-separated, from: book, vgg")
    p.add_argument("--json", default=None, metavar="PATH")
    args = p.parse_args(argv)
    workloads = args.workloads.split(",")
    if not set(workloads) <= {"book", "vgg"}:
        p.error(f"--workloads: expected names from book, vgg, got {args.workloads!r}")
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(1)
    impls = {"dlbook": roi_pool, "masked": masked_roi_pool, "slices": sliced_roi_pool}
    try:
        from torchvision.ops import roi_pool as tv_roi_pool

        impls["torchvision"] = tv_roi_pool
    except Exception:  # not installed, or a build that does not import beside torch
        pass

    results = {}
    print(f"torch {torch.__version__} on {device}, threads {torch.get_num_threads()}",
          flush=True)
    print(f"{'workload':8} {'impl':12} {'fwd ms':>9} {'fwd+bwd ms':>11} "
          f"{'fwd ratio':>10} {'f+b ratio':>10}")
    for name in workloads:
        features, boxes, out, scale = workload(name, device)
        want = roi_pool(features, boxes, out, scale)
        rows = {}
        for impl, fn in impls.items():
            got = fn(features, boxes, out, scale)
            if not torch.equal(got, want):
                raise AssertionError(f"{impl} differs from roi_pool on {name}")
            f = features.detach().clone().requires_grad_()

            def fwd(fn=fn, args=(features, boxes, out, scale)):
                with torch.no_grad():
                    fn(*args)

            def fwd_bwd(fn=fn, f=f, rest=(boxes, out, scale)):
                f.grad = None
                fn(f, *rest).sum().backward()

            rows[impl] = {
                "fwd_ms": 1e3 * timed(fwd, args.repeats, args.warmup, device, args.budget),
                "fwd_bwd_ms": 1e3 * timed(fwd_bwd, args.repeats, args.warmup, device,
                                           args.budget),
            }
        base = rows["dlbook"]
        for impl, r in rows.items():
            r["fwd_ratio"] = r["fwd_ms"] / base["fwd_ms"]
            r["fwd_bwd_ratio"] = r["fwd_bwd_ms"] / base["fwd_bwd_ms"]
            print(f"{name:8} {impl:12} {r['fwd_ms']:9.2f} {r['fwd_bwd_ms']:11.2f} "
                  f"{r['fwd_ratio']:9.1f}x {r['fwd_bwd_ratio']:9.1f}x", flush=True)
        results[name] = {"shape": {"features": list(features.shape),
                                   "boxes": boxes.shape[0], "output_size": out},
                         "impls": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()

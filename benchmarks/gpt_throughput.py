"""Training throughput of dlbook's GPT at nanoGPT's shakespeare-char size.

    python benchmarks/gpt_throughput.py                    # GPU: compile, bf16
    python benchmarks/gpt_throughput.py --device cpu --no-compile --steps 2 \
        --batch-size 2 --block-size 32                     # CPU smoke test

Model: n_layer=6, n_head=6, n_embd=384, block_size=256, vocab 65, dropout 0,
batch 64, random tokens (throughput does not depend on the text). Uses what a
fast GPT step uses: flash attention through scaled_dot_product_attention,
torch.compile, fused AdamW and bf16 autocast. Warm-up steps (which include
compilation) are not timed. MFU counts model FLOPs per token as 6N + 12*L*T*E
(PaLM, Chowdhery et al. 2022, appendix B) against --peak-tflops (default: an
H100 SXM's 989 dense bf16 TFLOP/s).

Measured on one H100 80GB HBM3 (torch 2.11, 2026-11-22), median of 50 steps:
eager 12.1 ms/iter (1.35M tokens/s, MFU 9.7%); compile 'default' 8.0 ms (2.05M,
14.7%); compile 'reduce-overhead' 5.5 ms (2.99M tokens/s, 21.4%). A profile puts
~4.9 ms of that on the GPU itself: at n_embd=384 the matmuls run near peak, but
the memory-bound work (GELU, LayerNorm backward, casts) and attention take ~40%.
max-autotune, other SDPA backends (flash, efficient, cuDNN) and tanh-GELU all
gave 5.4-5.6 ms.

Not yet measured on a GPU (no GPU was lent to the sessions since):
``--param-dtype bf16`` keeps the weights themselves in bf16 and drops autocast.
Under autocast the residual stream stays float32 (LayerNorm runs in float32 and
a bf16 branch added to a float32 stream gives float32), so every memory-bound
kernel on it moves twice the bytes; with bf16 weights it is bf16 throughout.
It is also a different training recipe: AdamW then updates bf16 weights, whose
8-bit mantissa loses small updates, so a run that should match float32 training
needs float32 master weights (or stochastic rounding). Compare
``final_loss`` with the default run before trusting its speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from dlbook.torch import device as pick_device  # noqa: E402
from dlbook.torch.models.gpt import GPT, GPTConfig  # noqa: E402


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the model (default: on for CUDA only)")
    p.add_argument("--compile-mode", default=None,
                   help="torch.compile mode (default: reduce-overhead on CUDA, whose "
                   "CUDA graphs remove the kernel-launch gaps; 'default' elsewhere)")
    p.add_argument("--dtype", choices=["bf16", "fp32"], default=None,
                   help="autocast dtype (default: bf16 on CUDA, fp32 elsewhere)")
    p.add_argument("--param-dtype", choices=["fp32", "bf16"], default="fp32",
                   help="dtype of the weights; bf16 turns autocast off (see above)")
    p.add_argument("--steps", type=int, default=50, help="timed steps")
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--block-size", type=int, default=256)
    p.add_argument("--n-layer", type=int, default=6)
    p.add_argument("--n-head", type=int, default=6)
    p.add_argument("--n-embd", type=int, default=384)
    p.add_argument("--vocab-size", type=int, default=65)
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="peak dense TFLOP/s of the chip for MFU (H100 SXM bf16: 989)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, metavar="PATH",
                   help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        p.error("--steps must be >= 1 and --warmup >= 0")
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    dev = pick_device(args.device)
    compile_ = dev.type == "cuda" if args.compile is None else args.compile
    dtype = args.dtype or ("bf16" if dev.type == "cuda" else "fp32")
    if args.param_dtype == "bf16":
        dtype = "bf16 weights"  # no autocast: every tensor is bf16 already
    torch.manual_seed(args.seed)
    if dev.type == "cuda":
        # TF32 for any float32 matmul left outside autocast (Ampere and newer).
        # Only on CUDA: the flags mean nothing on a CPU, and a process whose
        # cuDNN flags are locked (torch's own test utilities lock them) refuses
        # to set them at all.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    cfg = GPTConfig(block_size=args.block_size, vocab_size=args.vocab_size,
                    n_layer=args.n_layer, n_head=args.n_head, n_embd=args.n_embd,
                    dropout=0.0, bias=False)
    model = GPT(cfg).to(dev)
    if args.param_dtype == "bf16":
        model = model.to(torch.bfloat16)
    opt = model.configure_optimizers(weight_decay=0.1, lr=1e-3, betas=(0.9, 0.99),
                                     device_type=dev.type)
    fused = bool(opt.defaults.get("fused"))
    mode = args.compile_mode or ("reduce-overhead" if dev.type == "cuda"
                                 else "default")
    step_model = torch.compile(model, mode=mode) if compile_ else model
    B, T = args.batch_size, args.block_size
    x = torch.randint(0, cfg.vocab_size, (B, T), device=dev)
    y = torch.randint(0, cfg.vocab_size, (B, T), device=dev)
    if dtype == "bf16":  # autocast over float32 weights
        ctx = torch.autocast(device_type=dev.type, dtype=torch.bfloat16)
    else:
        ctx = contextlib.nullcontext()

    def step():
        with ctx:
            _, loss = step_model(x, y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    name = (torch.cuda.get_device_name(dev) if dev.type == "cuda"
            else platform.machine())
    print(f"GPT {model.num_params() / 1e6:.2f}M non-embedding params on {dev} "
          f"({name}), compile={compile_}{f' ({mode})' if compile_ else ''}, "
          f"dtype={dtype}, fused AdamW={fused}, B={B}, T={T}", flush=True)
    t0 = time.perf_counter()
    for _ in range(args.warmup):
        step()
    _sync(dev)
    warmup_s = time.perf_counter() - t0

    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        loss = step()
        _sync(dev)  # a step is only done when the GPU is
        times.append(time.perf_counter() - t)
    dt = statistics.median(times)
    tokens_per_s = B * T / dt
    mfu = model.estimate_mfu(B, dt, peak_flops=args.peak_tflops * 1e12, T=T)
    result = {
        "device": str(dev),
        "device_name": name,
        "torch": torch.__version__,
        "compile": compile_,
        "compile_mode": mode if compile_ else None,
        "dtype": dtype,
        "param_dtype": args.param_dtype,
        "fused_adamw": fused,
        "batch_size": B,
        "block_size": T,
        "n_layer": cfg.n_layer, "n_head": cfg.n_head, "n_embd": cfg.n_embd,
        "vocab_size": cfg.vocab_size,
        "params_non_embedding": model.num_params(),
        "flops_per_token": model.flops_per_token(T),
        "warmup_steps": args.warmup,
        "warmup_s": warmup_s,
        "steps": args.steps,
        "ms_per_iter": dt * 1e3,
        "ms_per_iter_mean": statistics.mean(times) * 1e3,
        "tokens_per_s": tokens_per_s,
        "peak_tflops": args.peak_tflops,
        "achieved_tflops": mfu * args.peak_tflops,
        "mfu": mfu,
        "final_loss": loss.item(),
    }
    print(f"{dt * 1e3:.2f} ms/iter (median of {args.steps}; mean "
          f"{result['ms_per_iter_mean']:.2f}), {tokens_per_s:,.0f} tokens/s, "
          f"{result['achieved_tflops']:.1f} TFLOP/s, MFU {100 * mfu:.1f}% of "
          f"{args.peak_tflops:g} TFLOP/s (warm-up {warmup_s:.1f}s)")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()

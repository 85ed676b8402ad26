"""Training throughput: dcgan-train's loop against the d2l chapter's loop, on the same images, in one run.

    python benchmarks/train_throughput.py sprites [--repeats 3] [--threads 2]
    python benchmarks/train_throughput.py sprites --image-size 32 64 128 --limit 512 --repeats 1

"d2l" is the loop as the d2l chapter writes it: torchvision ImageFolder with per-sample
Resize/ToTensor/Normalize transforms, a shuffling DataLoader (4 workers, as d2l's
get_dataloader_workers), eager update_D / update_G with a summed BCE loss, Z drawn per batch on
the host.  The only change: ImageFolder is told to accept .gif too (torchvision no longer
lists it), so that both loops read the same files.

"dcgan-train" is dcgan.train.loop.train itself, with its defaults: the decoded uint8 array
resident on the device, batches indexed and normalised there, the generator forward shared by
both updates, no discriminator weight gradients in the generator update, and channels_last
on CPU (--no-channels-last measures NCHW; --amp adds bf16 autocast).  Each of its epochs is a resumed
one-epoch call, so its figure is the loop's own per-epoch images/s (steps only; pictures and
checkpoints are written outside the timed part).  Decoding the dataset happens once, before
timing (dcgan-train caches it on disk), and is reported separately.

Epochs of the two loops alternate, so both see the same machine load; the first epoch of
each is a warm-up (with --compile, it also takes the compilation).  Printed: per-epoch
images/s, medians, their ratio, and each loop's share of the device's peak: images/s x the
FLOPs of one of its steps per image (FlopCounterMode), against, on a GPU, a dense matmul
measured in the same run in the loops' arithmetic (bf16 with --amp, else fp32), on a CPU the
cores' fp32 FMA rate (benchmarks/peak.py).

--image-size takes one or more of 32, 64, 128, 256: both loops train the networks of that size
(dcgan.train.model) on the images resized to it, RGB.  Peak memory is measured apart from the
timing, in a fresh process per loop and size that trains two epochs of that loop alone: its
peak resident set during the second (Linux: the high-water mark reset as it starts, so the
imports and the warm-up do not count; it holds torch, the images, both networks, optimizers,
activations), how
far it rose above the resident set at the epoch's start (the networks and optimizers of
dcgan-train are built inside its epoch call, the d2l loop's before it; dcgan-train's decoded
array is resident by then), and on CUDA the peak of torch's allocator.  The d2l loop's
DataLoader workers are forked processes of their own and not counted.  --limit N trains on the first N images only (a few steps per epoch).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn


def d2l_step(net_g, net_d, trainer_g, trainer_d, loss, x, z) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the d2l chapter's train(): update_D then update_G; returns the two losses."""
    batch_size = x.shape[0]
    ones = torch.ones((batch_size,), device=x.device)
    zeros = torch.zeros((batch_size,), device=x.device)
    trainer_d.zero_grad()
    real_y = net_d(x)
    fake_x = net_g(z)
    fake_y = net_d(fake_x.detach())
    loss_d = (loss(real_y, ones.reshape(real_y.shape))
              + loss(fake_y, zeros.reshape(fake_y.shape))) / 2
    loss_d.backward()
    trainer_d.step()

    trainer_g.zero_grad()
    fake_x = net_g(z)
    fake_y = net_d(fake_x)
    loss_g = loss(fake_y, ones.reshape(fake_y.shape))
    loss_g.backward()
    trainer_g.step()
    return loss_d, loss_g


def d2l_epoch(net_g, net_d, loader, trainer_g, trainer_d, latent_dim: int,
               device: torch.device) -> tuple[int, float]:
    """One epoch of the d2l chapter's train(); returns (images, seconds)."""
    loss = nn.BCEWithLogitsLoss(reduction="sum")
    metric = [0.0, 0.0, 0]
    start = time.perf_counter()
    for x, _ in loader:
        batch_size = x.shape[0]
        z = torch.normal(0, 1, size=(batch_size, latent_dim, 1, 1))
        x, z = x.to(device), z.to(device)  # as d2l's train() moves X and Z
        loss_d, loss_g = d2l_step(net_g, net_d, trainer_g, trainer_d, loss, x, z)
        metric[0] += float(loss_d)  # d2l adds the attached loss; float() syncs
        metric[1] += float(loss_g)
        metric[2] += batch_size
    return metric[2], time.perf_counter() - start


def step_flops_per_image(device: torch.device, g_width: int, d_width: int, latent_dim: int,
                         image_size: int = 64, batch: int = 16) -> float:
    """FLOPs per image of one d2l training step (both updates), counted by torch's
    FlopCounterMode (convolutions and matmuls, forward and backward). The unit for the share
    of peak of both loops, as model-FLOPs utilisation counts it: dcgan-train does less work
    per image (one generator forward for both updates, no discriminator weight gradients in
    the generator update), which shows up as images/s, not as FLOPs."""
    from torch.utils.flop_counter import FlopCounterMode

    from dcgan.train.model import ModelConfig, build_models

    torch.manual_seed(0)
    cfg = ModelConfig(latent_dim, g_width, d_width, image_size=image_size)
    net_g, net_d = (m.to(device) for m in build_models(cfg, init="d2l"))
    trainers = [torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.5, 0.999)) for m in (net_g, net_d)]
    x = torch.rand(batch, 3, image_size, image_size, device=device) * 2 - 1
    z = torch.randn(batch, latent_dim, 1, 1, device=device)
    with FlopCounterMode(display=False) as counter:
        d2l_step(net_g, net_d, *trainers, nn.BCEWithLogitsLoss(reduction="sum"), x, z)
    return counter.get_total_flops() / batch


def loop_flops_per_image(images, cfg, folder: Path, batch: int = 16) -> float:
    """FLOPs per image of one step of dcgan-train's own loop (its recipe as configured),
    counted by FlopCounterMode between the ends of its first and second steps, uncompiled."""
    from dataclasses import replace

    from torch.utils.flop_counter import FlopCounterMode

    from dcgan.train.loop import train
    from dcgan.train.run_folder import open_run_folder

    counter = FlopCounterMode(display=False)

    def on_step(step: int, g, d) -> None:
        if step == 1:
            counter.__enter__()
        elif step == 2:
            counter.__exit__(None, None, None)

    open_run_folder(folder, resume=False)
    small = replace(cfg, batch_size=batch, epochs=1, compile=False)
    train(images[: 2 * batch], small, folder, progress=False, on_step=on_step,
          dataset={"name": "flop count", "fingerprint": ""})
    return counter.get_total_flops() / batch


def matmul_peak(device: torch.device, dtype: torch.dtype) -> tuple[float, int]:
    """(FLOP/s, n) of a square dense matmul in ``dtype`` on a GPU, median of a few: the
    device's attainable peak for the arithmetic the loops use, measured in this run."""
    n = 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = []
    for i in range(6):
        sync()
        t = time.perf_counter()
        a @ b
        sync()
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times), n


def make_d2l_loop(folder: Path, args, image_size: int, device: torch.device):
    import torchvision
    from torchvision import transforms

    from dcgan.train.model import ModelConfig, build_models

    pokemon = torchvision.datasets.ImageFolder(
        str(folder), is_valid_file=lambda p: p.lower().endswith(
            (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")))
    pokemon.transform = transforms.Compose([
        transforms.Resize((image_size, image_size)), transforms.ToTensor(),
        transforms.Normalize(0.5, 0.5)])
    dataset = torch.utils.data.Subset(pokemon, range(min(args.limit or len(pokemon), len(pokemon))))
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.d2l_workers)
    torch.manual_seed(0)
    cfg = ModelConfig(args.latent_dim, args.g_width, args.d_width, image_size=image_size)
    net_g, net_d = build_models(cfg, init="d2l")
    net_g, net_d = net_g.to(device), net_d.to(device)
    hp = {"lr": args.lr, "betas": [0.5, 0.999]}
    trainer_g = torch.optim.Adam(net_g.parameters(), **hp)
    trainer_d = torch.optim.Adam(net_d.parameters(), **hp)
    return lambda: d2l_epoch(net_g, net_d, loader, trainer_g, trainer_d, args.latent_dim, device)


def make_our_loop(images, cfg, out: Path):
    from dcgan.train.checkpoint import load_checkpoint
    from dcgan.train.loop import train
    from dcgan.train.run_folder import open_run_folder

    open_run_folder(out, resume=False)
    state = {"epochs": 0}

    def one_epoch() -> tuple[int, float]:
        state["epochs"] += 1
        cfg.epochs = state["epochs"]
        ckpt = load_checkpoint(out) if state["epochs"] > 1 else None
        result = train(images, cfg, out, checkpoint=ckpt, progress=False,
                       dataset={"name": "benchmark", "fingerprint": ""})
        row = result.last
        return round(row["images_per_sec"] * row["seconds"]), row["seconds"]

    return one_epoch


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder of images (ImageFolder layout)")
    p.add_argument("--repeats", type=int, default=3, help="timed epochs of each loop")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads for both loops")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=0.005)
    p.add_argument("--g-width", type=int, default=64)
    p.add_argument("--d-width", type=int, default=64)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--image-size", type=int, nargs="+", default=[64], choices=(32, 64, 128, 256),
                   metavar="S", help="one or more image sizes: 32, 64, 128, 256")
    p.add_argument("--limit", type=int, default=0, metavar="N",
                   help="train on the first N images only (0: all)")
    p.add_argument("--d2l-workers", type=int, default=4, help="the d2l loop's DataLoader workers")
    p.add_argument("--no-channels-last", action="store_true",
                   help="dcgan-train --no-channels-last (NCHW, the d2l loop's layout)")
    p.add_argument("--amp", action="store_true", help="dcgan-train --amp (bf16 autocast)")
    p.add_argument("--compile", action="store_true", help="dcgan-train --compile (torch.compile)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or auto")
    p.add_argument("--memory-of", choices=("d2l", "dcgan-train"), help=argparse.SUPPRESS)
    return p.parse_args()


def prepare(args, image_size: int, load: bool = True):
    """(device, the decoded images (None unless ``load``), the dcgan-train options, seconds the
    load took)."""
    from dcgan.data import DataError, load_dataset
    from dcgan.train.config import TrainConfig
    from dcgan.train.distributed import resolve_device

    start = time.perf_counter()
    images = None
    if load:
        try:
            images = load_dataset(str(args.folder), image_size=image_size, progress=False).images
        except DataError as e:
            sys.exit(f"error: {e}")
        images = images[: args.limit] if args.limit else images
    device = resolve_device(args.device)
    cfg = TrainConfig(data=str(args.folder), batch_size=args.batch_size, lr=args.lr,
                      g_width=args.g_width, d_width=args.d_width, latent_dim=args.latent_dim,
                      image_size=image_size, device=str(device), seed=0, amp=args.amp,
                      compile=args.compile, channels_last=False if args.no_channels_last else None,
                      log_every=10**6)
    return device, images, cfg, time.perf_counter() - start


def memory_alone(args, image_size: int, loop: str) -> dict:
    """Peak memory of an epoch of ``loop`` alone, in a fresh process (see the top)."""
    flags = [f"--{k.replace('_', '-')}" for k in ("no_channels_last", "amp", "compile")
             if getattr(args, k)]
    options = {"--threads": args.threads, "--batch-size": args.batch_size, "--lr": args.lr,
               "--g-width": args.g_width, "--d-width": args.d_width,
               "--latent-dim": args.latent_dim, "--limit": args.limit,
               "--d2l-workers": args.d2l_workers, "--device": args.device,
               "--image-size": image_size, "--memory-of": loop}
    cmd = [sys.executable, __file__, str(args.folder), *flags,
           *(str(x) for kv in options.items() for x in kv)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"error: the memory run of {loop} at {image_size} failed: {done.stderr[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report_memory_alone(args) -> None:
    """The child side of memory_alone: two epochs, then the peaks as one JSON line."""
    size, d2l = args.image_size[0], args.memory_of == "d2l"
    device, images, cfg, _ = prepare(args, size, load=not d2l)  # d2l reads the files itself
    with tempfile.TemporaryDirectory() as tmp:
        one_epoch = (make_d2l_loop(args.folder, args, size, device) if d2l
                     else make_our_loop(images, cfg, Path(tmp) / "run"))
        one_epoch()  # a warm-up: imports, first-run kernels, allocator caches
        before = reset_peak_resident()
        one_epoch()
    peaks = {"rss_mib": peak_resident_mib(), "before_mib": before}
    if device.type == "cuda":
        peaks["cuda_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
    print(json.dumps(peaks))


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise OSError(f"no {field} in /proc/self/status")


def reset_peak_resident() -> float:
    """Start the peak resident set afresh from the current one (Linux's clear_refs "5"), so
    that it tells the epoch's peak, not the imports'; returns the current one, in MiB.  Where
    that cannot be done, the peak stays the process's (ru_maxrss)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_mib("VmRSS")
    except OSError:
        return float("nan")


def peak_resident_mib() -> float:
    try:
        return _status_mib("VmHWM")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_text(m: dict) -> str:
    text = f"{m['rss_mib']:.0f} MiB ({m['rss_mib'] - m['before_mib']:.0f} above its start)"
    if "cuda_mib" in m:
        text += f", CUDA {m['cuda_mib']:.0f} MiB"
    return text


def measure(args, image_size: int) -> dict:
    """Time both loops at one image size, count their FLOPs, measure their memory; print it."""
    device, images, cfg, load_s = prepare(args, image_size)
    print(f"{image_size}x{image_size}: {len(images)} images from {args.folder}; batch "
          f"{args.batch_size}, widths {args.g_width}/{args.d_width}, on {device}, {args.threads} "
          f"torch threads, CPU: {torch.backends.cpu.get_cpu_capability()}; dataset load "
          f"(decode or cache) {load_s:.1f}s, once")
    loops = {"d2l": make_d2l_loop(args.folder, args, image_size, device)}
    with tempfile.TemporaryDirectory() as tmp:
        loops["dcgan-train"] = make_our_loop(images, cfg, Path(tmp) / "run")
        rates: dict[str, list[float]] = {name: [] for name in loops}
        own_flops = loop_flops_per_image(images, cfg, Path(tmp) / "flops")
        for epoch in range(args.repeats + 1):
            for name, run_epoch in loops.items():
                n, seconds = run_epoch()
                tag = "warm-up" if epoch == 0 else f"epoch {epoch}"
                print(f"  {name:12s} {tag:8s} {n:5d} images {seconds:7.2f}s "
                      f"{n / seconds:8.1f} images/s", flush=True)
                if epoch:
                    rates[name].append(n / seconds)
    d2l, ours = (statistics.median(rates[k]) for k in ("d2l", "dcgan-train"))
    print(f"median images/s: d2l {d2l:.1f}, dcgan-train {ours:.1f}; ratio {ours / d2l:.2f}x")
    memory = {name: memory_alone(args, image_size, name) for name in loops}
    print(f"peak memory, each loop alone: d2l {memory_text(memory['d2l'])}, dcgan-train "
          f"{memory_text(memory['dcgan-train'])}")

    flops = step_flops_per_image(device, args.g_width, args.d_width, args.latent_dim, image_size)
    print(f"FLOPs per image (torch FlopCounterMode): d2l step {flops / 1e9:.3g} G, dcgan-train's "
          f"step {own_flops / 1e9:.3g} G")
    print_share_of_peak(args, device, d2l * flops, ours * own_flops, ours * flops)
    return {"size": image_size, "d2l": d2l, "ours": ours, "memory": memory}


def print_share_of_peak(args, device: torch.device, d2l_flops: float, own_flops: float,
                        own_at_d2l_flops: float) -> None:
    if device.type == "cpu":
        # torch's own fp32 matmul reached ~0.2 TFLOP/s here, below what its convolutions did:
        # the FMA rate of the cores is the peak (bf16 autocast is set against it too).
        from peak import describe_peak

        with tempfile.TemporaryDirectory() as tmp:
            peak = describe_peak(Path(tmp), args.threads)[0] * 1e9
        what = "the cores' fp32 FMA rate"
    else:
        dtype = torch.bfloat16 if args.amp else torch.float32
        peak, n = matmul_peak(device, dtype)
        what = f"a {n}x{n} {str(dtype).removeprefix('torch.')} matmul on {device}, measured now"
    print(f"peak: {what}: {peak / 1e12:.3f} TFLOP/s")
    print(f"  d2l          {d2l_flops / 1e12:8.3f} TFLOP/s = {100 * d2l_flops / peak:5.1f}% of that peak")
    print(f"  dcgan-train  {own_flops / 1e12:8.3f} TFLOP/s = {100 * own_flops / peak:5.1f}% "
          f"of that peak ({100 * own_at_d2l_flops / peak:.1f}% counting the d2l step's FLOPs per image)")


def main() -> None:
    args = parse_args()
    # The d2l chapter asks for 4 workers whatever the machine; that is part of what is measured.
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    warnings.filterwarnings("ignore", message="Converting a tensor with requires_grad=True")
    torch.set_num_threads(args.threads)
    if args.memory_of:
        report_memory_alone(args)
        return
    rows = [measure(args, size) for size in args.image_size]
    if len(rows) > 1:
        print("size  d2l images/s  dcgan-train images/s  ratio  peak RSS d2l / dcgan-train")
        for r in rows:
            m = r["memory"]
            print(f"{r['size']:4d}  {r['d2l']:12.1f}  {r['ours']:20.1f}  {r['ours'] / r['d2l']:4.2f}x"
                  f"  {m['d2l']['rss_mib']:.0f} / {m['dcgan-train']['rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()

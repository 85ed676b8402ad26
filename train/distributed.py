"""Where this process trains: the device, and its place in a torchrun job if there is one.

``torchrun --nproc_per_node N --no-python dcgan-train ...`` sets WORLD_SIZE, RANK and
LOCAL_RANK; without them the run is a single process and nothing here touches
torch.distributed.  The gradient collectives run on the device backend (NCCL on CUDA, Gloo on
CPU); the small host-side votes (stop requested? loss non-finite? rank 0's writes failed?) run
on a Gloo group so that reading them never waits on the GPU.
"""
from __future__ import annotations

import gc
import inspect
import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .errors import DeviceError


def resolve_device(name: str, local_rank: int = 0, distributed: bool = False) -> torch.device:
    """``auto`` picks CUDA, then MPS, then CPU; a rank of a distributed run takes its local GPU."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available() and not distributed:
            name = "mps"
        else:
            name = "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available here")
        if distributed:
            device = torch.device("cuda", local_rank)  # one GPU per rank, as torchrun intends
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceError(f"device {device} requested but this machine has "
                              f"{torch.cuda.device_count()} GPU(s)")
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError("device 'mps' requested but MPS is not available here")
        if distributed:
            raise DeviceError("distributed training supports CUDA and CPU, not MPS")
    elif device.type != "cpu":
        raise DeviceError(f"unsupported device {name!r} (use auto, cpu, cuda, cuda:N or mps)")
    return device


@dataclass
class Distributed:
    """This process's place in the job; a single process is rank 0 of a world of 1."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    control: object | None = None  # Gloo process group for host-side votes

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def vote(self, *flags: bool) -> list[bool]:
        """Each flag OR-ed over all ranks, so every rank takes the same branch afterwards."""
        if not self.enabled:
            return [bool(f) for f in flags]
        t = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.control)
        return [bool(v) for v in t.tolist()]

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """In-place sum over ranks of a device tensor (no-op for a single process)."""
        if self.enabled:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor

    def gather(self, obj) -> list:
        """One picklable object from every rank, in rank order, on every rank."""
        if not self.enabled:
            return [obj]
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj, group=self.control)
        return out

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier(group=self.control)


def env_world() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from the variables torchrun sets; (0, 1, 0) without them."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise DeviceError("WORLD_SIZE, RANK and LOCAL_RANK must be integers") from None
    if world < 1 or not 0 <= rank < world:
        raise DeviceError(f"inconsistent torchrun environment: RANK={rank} WORLD_SIZE={world}")
    return rank, world, local_rank


def start(device_name: str, timeout_min: float = 30.0) -> tuple[Distributed, torch.device]:
    """Join the torchrun job if there is one; return it with this rank's device."""
    rank, world, local_rank = env_world()
    device = resolve_device(device_name, local_rank, distributed=world > 1)
    if world == 1:
        return Distributed(), device
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = timedelta(minutes=timeout_min)
    dist.init_process_group(backend, rank=rank, world_size=world, timeout=timeout)
    control = dist.new_group(backend="gloo", timeout=timeout) if backend != "gloo" else None
    return Distributed(rank, world, local_rank, control), device


def stop(ctx: Distributed) -> None:
    """Tear the process groups down while the interpreter is whole.

    DDP's reducer holds the group and pending Gloo work, often inside reference cycles; if
    they survive until interpreter shutdown, Gloo's worker threads are destroyed unjoined
    there and the process aborts ("terminate called without an active exception"). Collect
    them first, so destroy_process_group really frees the groups.
    """
    if ctx.enabled and dist.is_initialized():
        gc.collect()
        dist.destroy_process_group()
        gc.collect()


def wrap_ddp(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """DistributedDataParallel without re-broadcasting buffers before each forward.

    BN running statistics are only used in eval mode, which only rank 0 runs (pictures and
    checkpoints), so syncing them before every forward (three per step) would buy nothing.
    """
    from torch.nn.parallel import DistributedDataParallel as DDP

    ids = [device.index] if device.type == "cuda" else None
    if "forward_sync_buffers" in inspect.signature(DDP.__init__).parameters:
        return DDP(module, device_ids=ids, forward_sync_buffers=False)
    return DDP(module, device_ids=ids, broadcast_buffers=False)

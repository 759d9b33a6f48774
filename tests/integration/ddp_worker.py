"""One rank of the DDP test (run by ``torchrun``): ``ddp_worker.py OUT_DIR DEVICE``.

Each rank builds Unet/resnet18 from a different seed (DDP must broadcast rank 0's weights),
trains it two steps on data of its own, and writes ``OUT_DIR/rank<N>.json`` with checksums of
its parameters and buffers after wrapping and after training. It does the same with a copy
converted to ``SyncBatchNorm`` (recording torch's refusal where SyncBatchNorm cannot train, as
on CPU) and records what the conversion changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import seghub

SPEC = {
    "encoder": {"name": "resnet18", "weights": None},
    "decoder": {"name": "unet", "params": {"decoder_channels": [64, 32, 16, 16, 8]}},
    "segmentation_head": {"classes": 2},
}
SIZE, BATCH, STEPS = 64, 2, 2


def checksum(tensors: list[torch.Tensor]) -> str:
    """An exact digest of the tensors' bits (integer sums of their reinterpreted words)."""
    digest = hashlib.sha256()
    for tensor in tensors:
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        words = flat.view(torch.int32 if flat.element_size() == 4 else torch.int64).long()
        position = torch.arange(1, words.numel() + 1, dtype=torch.long)
        digest.update(f"{tuple(tensor.shape)}:{int(words.sum())}:{int((words * position).sum())};".encode())
    return digest.hexdigest()


def state(model: nn.Module) -> dict[str, str]:
    return {"params": checksum(list(model.parameters())), "buffers": checksum(list(model.buffers()))}


def train(model: nn.Module, device: torch.device, rank: int) -> dict[str, Any]:
    """Wrap in DDP, train ``STEPS`` steps on this rank's own data; checksums before and after."""
    ddp = DistributedDataParallel(model.to(device), device_ids=[device.index] if device.type == "cuda" else None)
    before = state(ddp.module)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    data = torch.Generator().manual_seed(1000 + rank)
    losses = []
    for _ in range(STEPS):
        x = torch.randn(BATCH, 3, SIZE, SIZE, generator=data).to(device)
        y = torch.randint(0, 2, (BATCH, SIZE, SIZE), generator=data).to(device)
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(ddp(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"trained": True, "before": before, "after": state(ddp.module), "losses": losses}


def conversion(model: nn.Module, converted: nn.Module) -> dict[str, Any]:
    """What ``convert_sync_batchnorm`` did: module counts, state-dict keys, eval outputs."""
    x = torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        same = torch.equal(model.eval()(x), converted.eval()(x))
    model.train(), converted.train()
    return {
        "batchnorm_before": sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()),
        "syncbn_after": sum(isinstance(m, nn.SyncBatchNorm) for m in converted.modules()),
        "batchnorm_left": sum(type(m) is nn.BatchNorm2d for m in converted.modules()),
        "same_keys": list(model.state_dict()) == list(converted.state_dict()),
        "same_eval_output": same,
        "is_segmentation_model": isinstance(converted, seghub.SegmentationModel),
    }


def main(out: Path, device_type: str) -> None:
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend)
    rank = dist.get_rank()
    device = torch.device(device_type, int(os.environ["LOCAL_RANK"])) if device_type == "cuda" else torch.device("cpu")
    torch.set_num_threads(1)
    torch.manual_seed(rank)  # a different initialisation on every rank
    model = seghub.build_model(SPEC)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(model))
    result: dict[str, Any] = {"rank": rank, "world": dist.get_world_size(), "conversion": conversion(model, converted)}
    result["plain"] = train(model, device, rank)
    try:
        result["syncbn"] = train(converted, device, rank)
    except ValueError as exc:  # torch on CPU: "SyncBatchNorm layers only work with GPU modules"
        result["syncbn"] = {"trained": False, "reason": str(exc)}
    (out / f"rank{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])

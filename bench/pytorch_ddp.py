#!/usr/bin/python3
"""The PyTorch side of bench/dist_bench.sh: PyTorch's own data-parallel training
(torch.nn.parallel.DistributedDataParallel, gloo on the CPU) of the models of
bench/pytorch_train.py, started by torchrun, one process per rank. Rank 0 prints one JSON line.

The same data path as bench/pytorch_train.py (torchvision's ImageFolder over a class-folder view
of the exported PNGs, a DataLoader with worker processes), with a DistributedSampler that gives
each rank its share of the shuffled epoch. --batch-size is the global batch, as in
`vrepo train --nproc N`: each rank steps on batch / world_size samples.

img/s is the whole job's: the training images of all ranks over the slowest rank's seconds,
from the start of the epoch (after a barrier; DataLoader workers starting included) to its last
optimizer step. Evaluation runs on rank 0 after the clock stops.

usage: torchrun --standalone --nproc_per_node N bench/pytorch_ddp.py --train VIEW/train
           [--test VIEW/test] --model small-cnn|resnet18 [--image-size N] [--batch-size 128]
           [--threads T] [--workers W] [--epochs 1] [--seed 0]
"""
import argparse
import json
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torchvision
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from torchvision import transforms

from pytorch_train import gray_loader, resnet18, small_cnn


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--test")
    p.add_argument("--model", default="small-cnn", choices=["small-cnn", "resnet18"])
    p.add_argument("--image-size", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=128, help="global batch, all ranks")
    p.add_argument("--threads", type=int, default=1, help="compute threads per rank")
    p.add_argument("--workers", type=int, default=1, help="DataLoader workers per rank")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if a.batch_size % world:
        raise SystemExit(f"pytorch_ddp.py: --batch-size {a.batch_size} is not a multiple of "
                         f"the {world} ranks")
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)  # every rank builds the same weights; DDP broadcasts rank 0's
    fmt = torch.channels_last

    steps = [transforms.Resize((a.image_size, a.image_size))] if a.image_size else []
    steps += [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
    tf = transforms.Compose(steps)
    train = torchvision.datasets.ImageFolder(a.train, transform=tf, loader=gray_loader)
    num_classes = len(train.classes)
    model = (small_cnn if a.model == "small-cnn" else resnet18)(num_classes)
    model = model.to(memory_format=fmt)
    ddp = DistributedDataParallel(model)
    opt = torch.optim.AdamW(ddp.parameters(), lr=1e-3, weight_decay=0)
    sampler = DistributedSampler(train, num_replicas=world, rank=rank, shuffle=True,
                                 seed=a.seed)
    dl = DataLoader(train, batch_size=a.batch_size // world, sampler=sampler,
                    num_workers=a.workers)

    ips = []
    for epoch in range(a.epochs):
        sampler.set_epoch(epoch)
        ddp.train()
        dist.barrier()
        start, seen = time.perf_counter(), 0
        for x, y in dl:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(ddp(x.contiguous(memory_format=fmt)), y)
            loss.backward()
            opt.step()
            loss.item()  # vrepo reads every batch's loss too
            seen += len(y)
        elapsed = time.perf_counter() - start
        # The job's speed: every rank's images over the slowest rank's time.
        total = torch.tensor([float(seen)], dtype=torch.float64)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        slowest = torch.tensor([elapsed], dtype=torch.float64)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        ips.append(total.item() / slowest.item())

    result = {"model": a.model, "images_per_second": ips, "world_size": world,
              "backend": dist.get_backend(), "threads": torch.get_num_threads(),
              "workers": a.workers, "batch_size": a.batch_size, "train_images": len(train),
              "torch": torch.__version__}
    if rank == 0:
        if a.test:
            # Untimed: shows the job learned what the single-process script learns.
            test = torchvision.datasets.ImageFolder(a.test, transform=tf, loader=gray_loader)
            model.eval()
            correct = 0
            with torch.no_grad():
                for x, y in DataLoader(test, batch_size=256, num_workers=a.workers):
                    correct += (model(x.contiguous(memory_format=fmt)).argmax(1) == y).sum()
            result["val_accuracy"] = int(correct) / len(test)
        print(json.dumps(result), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

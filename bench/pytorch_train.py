#!/usr/bin/python3
"""The PyTorch side of bench/train_bench.sh: the same models, optimizer, batch size, image
size and thread counts as `vrepo train`, reading the exported PNG files through torchvision's
ImageFolder (a class-folder view of symlinks) and a DataLoader. Prints one JSON line.

Timing matches vrepo's images/s: from the start of the epoch (DataLoader workers starting
included) to the last optimizer step; imports, building the view and evaluation are outside.

With --precision bf16 the forward pass and the loss run under torch.autocast(bfloat16), on the
CPU as on CUDA, as `vrepo train --precision bf16` does. On CUDA (bench/cuda_check.sh) it does
what `vrepo train --device cuda` does: pinned batches copied asynchronously, cuDNN benchmark
mode.

With --synthetic there is no data loading at all: the same number of steps train on one batch of
random tensors made before the clock starts, which is the most any trainer built on this
libtorch can do with this model. It also reports which share of that time torch's profiler
puts in the convolutions (oneDNN on the CPU), forward and backward.

usage: bench/pytorch_train.py --train VIEW/train --test VIEW/test --model small-cnn|resnet18
                              [--image-size N] [--batch-size 128] [--threads T] [--workers W]
                              [--epochs 1] [--seed 0] [--device cpu|cuda]
                              [--precision fp32|bf16] [--memory-format channels_last|contiguous]
                              [--synthetic]
"""
import argparse
import contextlib
import json
import time

import torch
import torch.nn as nn
import torchvision
from PIL import Image
from torchvision import transforms


def small_cnn(num_classes):
    """vrepo's small-cnn (src/train/models.cc): three conv+bn+relu+pool stages, 3x3 grid head."""

    def stage(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(),
                             nn.MaxPool2d(2))

    class SmallCnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer1, self.layer2, self.layer3 = stage(1, 32), stage(32, 64), stage(64, 128)
            self.fc = nn.Linear(128 * 3 * 3, num_classes)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(nn.functional.adaptive_avg_pool2d(x, 3).flatten(1))

    return SmallCnn()


def resnet18(num_classes):
    """torchvision's resnet18 with a 1-channel stem, as vrepo builds it for gray images."""
    m = torchvision.models.resnet18(num_classes=num_classes)
    m.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    nn.init.kaiming_normal_(m.conv1.weight, mode="fan_out", nonlinearity="relu")
    return m


def gray_loader(path):
    # vrepo decodes gray PNGs to one channel; ImageFolder's default loader would make RGB.
    with open(path, "rb") as f:
        return Image.open(f).convert("L")


def synthetic(a, model, step, images, num_classes, dev, fmt):
    """Trains on one random batch, as many steps as an epoch has, and profiles three more."""
    model.train()
    channels = 1  # gray, as the loader gives
    size = a.image_size or 28
    x = torch.randn(a.batch_size, channels, size, size, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, num_classes, (a.batch_size,), device=dev)
    steps = max(1, images // a.batch_size)
    step(x, y)  # oneDNN builds its kernels on the first step
    ips = []
    for _ in range(a.epochs):
        start = time.perf_counter()
        for _ in range(steps):
            step(x, y)
        ips.append(steps * a.batch_size / (time.perf_counter() - start))
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            step(x, y)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    conv = sum(e.self_cpu_time_total for e in events
               if e.key in ("aten::mkldnn_convolution", "aten::convolution_backward"))
    print(json.dumps({"model": a.model, "images_per_second": ips, "precision": a.precision,
                      "threads": torch.get_num_threads(), "conv_share": conv / total,
                      "torch": torch.__version__}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--model", default="small-cnn", choices=["small-cnn", "resnet18"])
    p.add_argument("--image-size", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--memory-format", default="channels_last",
                   choices=["channels_last", "contiguous"])
    p.add_argument("--synthetic", action="store_true")
    a = p.parse_args()
    dev = torch.device(a.device)
    fmt = torch.channels_last if a.memory_format == "channels_last" else torch.contiguous_format
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # as vrepo's non-deterministic CUDA runs

    def autocast():
        if a.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(dev.type, dtype=torch.bfloat16)

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    steps = [transforms.Resize((a.image_size, a.image_size))] if a.image_size else []
    # x / 127.5 - 1, as vrepo's loader scales pixels.
    steps += [transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))]
    tf = transforms.Compose(steps)
    train = torchvision.datasets.ImageFolder(a.train, transform=tf, loader=gray_loader)
    test = torchvision.datasets.ImageFolder(a.test, transform=tf, loader=gray_loader)
    num_classes = len(train.classes)
    model = (small_cnn if a.model == "small-cnn" else resnet18)(num_classes)
    model = model.to(dev, memory_format=fmt)  # vrepo trains channels_last too
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0)  # vrepo's defaults
    dl = torch.utils.data.DataLoader(train, batch_size=a.batch_size, shuffle=True,
                                     num_workers=a.workers, pin_memory=cuda)

    def step(x, y):
        opt.zero_grad()
        with autocast():
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()  # vrepo reads every batch's loss too

    if a.synthetic:
        synthetic(a, model, step, len(train), num_classes, dev, fmt)
        return

    ips = []
    for _ in range(a.epochs):
        model.train()
        start, seen = time.perf_counter(), 0
        for x, y in dl:
            step(x.to(dev, non_blocking=True).contiguous(memory_format=fmt),
                 y.to(dev, non_blocking=True))
            seen += len(y)
        ips.append(seen / (time.perf_counter() - start))

    # Accuracy on the test split, untimed: shows both sides learned the same task.
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in torch.utils.data.DataLoader(test, batch_size=256, num_workers=a.workers):
            with autocast():
                logits = model(x.to(dev).contiguous(memory_format=fmt))
            correct += (logits.argmax(1).cpu() == y).sum()
    print(json.dumps({"model": a.model, "images_per_second": ips,
                      "device": torch.cuda.get_device_name() if cuda else "cpu",
                      "precision": a.precision, "memory_format": a.memory_format,
                      "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "workers": a.workers,
                      "train_images": len(train),
                      "val_accuracy": int(correct) / len(test)}))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The PyTorch side of bench/finetune_bench.sh: a full fine-tune of a torchvision architecture
at its standard input (Resize(256) + CenterCrop(224), ImageNet mean/std, RGB), as a plain
PyTorch script does it, with the same optimizer, batch size and thread counts as
`vrepo train`. Prints one JSON line: training images/s of each epoch (loader start to the
last optimizer step, as vrepo measures), validation accuracy and peak RSS.

With --synthetic no data is read: the same number of steps train on one batch of random
tensors made before the clock starts, the most any trainer on this libtorch can do.

usage: bench/pytorch_finetune.py --train VIEW/train --test VIEW/test --model resnet18|vit_b_16|...
                                 [--base FILE.pth] [--image-size 224] [--batch-size 32]
                                 [--threads T] [--workers W] [--epochs 1] [--lr 1e-4]
                                 [--precision fp32|bf16] [--synthetic]
"""
import argparse
import contextlib
import json
import resource
import time

import torch
import torch.nn as nn
import torchvision
from torchvision import transforms

HEADS = {"resnet": "fc", "mobilenet_v3_large": "classifier.3", "efficientnet_b0": "classifier.1",
         "convnext_tiny": "classifier.2", "vit_b_16": "heads.head"}


def head_name(model):
    for prefix, name in HEADS.items():
        if model.startswith(prefix):
            return name
    raise SystemExit("unknown model " + model)


def build(a, num_classes):
    model = getattr(torchvision.models, a.model)(num_classes=num_classes)
    if a.base:
        state = torch.load(a.base, map_location="cpu")
        head = head_name(a.model) + "."
        if state[head + "weight"].shape[0] != num_classes:  # a new head, as vrepo makes
            state = {k: v for k, v in state.items() if not k.startswith(head)}
        model.load_state_dict(state, strict=False)
    return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--base")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--synthetic", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    fmt = torch.channels_last

    def autocast():
        if a.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=torch.bfloat16)

    resize = round(a.image_size * 256 / 224)
    tf = transforms.Compose([
        transforms.Resize(resize, antialias=True), transforms.CenterCrop(a.image_size),
        transforms.ToTensor(),
        transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    rgb = lambda path: torchvision.datasets.folder.pil_loader(path)  # noqa: E731
    train = torchvision.datasets.ImageFolder(a.train, transform=tf, loader=rgb)
    test = torchvision.datasets.ImageFolder(a.test, transform=tf, loader=rgb)
    num_classes = len(train.classes)
    model = build(a, num_classes).to(memory_format=fmt)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0)

    def step(x, y):
        opt.zero_grad()
        with autocast():
            loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    ips = []
    model.train()
    if a.synthetic:
        x = torch.randn(a.batch_size, 3, a.image_size, a.image_size).contiguous(memory_format=fmt)
        y = torch.randint(0, num_classes, (a.batch_size,))
        steps = max(1, len(train) // a.batch_size)
        step(x, y)  # oneDNN builds its kernels on the first step
        for _ in range(a.epochs):
            start = time.perf_counter()
            for _ in range(steps):
                step(x, y)
            ips.append(steps * a.batch_size / (time.perf_counter() - start))
        accuracy = None
    else:
        dl = torch.utils.data.DataLoader(train, batch_size=a.batch_size, shuffle=True,
                                         num_workers=a.workers)
        for _ in range(a.epochs):
            model.train()
            start, seen = time.perf_counter(), 0
            for x, y in dl:
                step(x.contiguous(memory_format=fmt), y)
                seen += len(y)
            ips.append(seen / (time.perf_counter() - start))
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in torch.utils.data.DataLoader(test, batch_size=64, num_workers=a.workers):
                with autocast():
                    correct += (model(x.contiguous(memory_format=fmt)).argmax(1) == y).sum()
        accuracy = int(correct) / len(test)
    print(json.dumps({"model": a.model, "images_per_second": ips, "precision": a.precision,
                      "threads": torch.get_num_threads(), "train_images": len(train),
                      "val_accuracy": accuracy, "synthetic": a.synthetic,
                      "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()

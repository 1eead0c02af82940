#!/usr/bin/env python3
"""A plain PyTorch training script, run and recorded by `vrepo run` (docs/training.md,
"Runs from any script"). It knows nothing of vrepo beyond three environment variables:

  VREPO_DATA     a read-only folder holding the dataset commit's files
  VREPO_OUTPUT   where to save what the run produces (model.pt here)
  VREPO_METRICS  a file to append one JSON object a line to (one per epoch here)

    vrepo run --name cnn-1 -- python3 examples/pytorch_train.py --labels labels.csv --epochs 2

It trains a tiny CNN on the images a CSV label table names (columns path,label; images of
any size, read as grayscale and resized). Deterministic: seeded, one thread, deterministic
algorithms, so `vrepo reproduce cnn-1` matches metrics and model bit for bit on the same
machine. Without VREPO_* it reads --data and writes --output.
"""
import argparse
import csv
import json
import os
import random
import sys

import numpy as np
import torch
from PIL import Image


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=os.environ.get("VREPO_DATA", "."))
    p.add_argument("--output", default=os.environ.get("VREPO_OUTPUT", "output"))
    p.add_argument("--metrics", default=os.environ.get("VREPO_METRICS"))
    p.add_argument("--labels", default="labels.csv", help="CSV label table, relative to --data")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--size", type=int, default=28, help="images are resized to SIZE x SIZE")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def load_table(data, labels, size):
    with open(os.path.join(data, labels), newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{labels}: no rows")
    classes = sorted({r["label"] for r in rows})
    images, targets = [], []
    for r in rows:
        with Image.open(os.path.join(data, r["path"])) as img:
            pixels = np.asarray(img.convert("L").resize((size, size)), dtype=np.float32)
        images.append(torch.from_numpy(pixels / 255.0).unsqueeze(0))
        targets.append(classes.index(r["label"]))
    return torch.stack(images), torch.tensor(targets), classes


class TinyCnn(torch.nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1))
        self.head = torch.nn.Linear(16, classes)

    def forward(self, x):
        return self.head(self.features(x).flatten(1))


def main():
    args = parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)

    x, y, classes = load_table(args.data, args.labels, args.size)
    model = TinyCnn(len(classes))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    order = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for batch in torch.randperm(len(x), generator=order).split(args.batch_size):
            opt.zero_grad()
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        model.eval()
        with torch.no_grad():
            accuracy = (model(x).argmax(1) == y).float().mean().item()
        line = {"epoch": epoch, "train_loss": total / seen, "train_accuracy": accuracy}
        print(json.dumps(line), flush=True)
        if args.metrics:
            with open(args.metrics, "a") as f:
                f.write(json.dumps(line) + "\n")

    os.makedirs(args.output, exist_ok=True)
    torch.save({"classes": classes, "state_dict": model.state_dict()},
               os.path.join(args.output, "model.pt"))


if __name__ == "__main__":
    main()

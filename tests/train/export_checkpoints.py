#!/usr/bin/python3
"""Writes the checkpoints checkpoint_test.cc imports into OUT_DIR:

  resnet18.pth              torch.save(state_dict) of torchvision resnet18, zip format
  resnet18_legacy.pth       the same, _use_new_zipfile_serialization=False
  resnet18_timm.safetensors the same tensors under timm's names (equal to torchvision's for
                            ResNets), without the num_batches_tracked counters timm omits
  resnet18_ref.safetensors  the reference the imports are compared with, bit for bit
  resnet34.pth              another architecture (more blocks, same shapes)
  resnet50_part.pth         the first tensors of resnet50 (other shapes)
  evil_zip.pth, evil_legacy.pth, evil.pkl
                            pickles whose __reduce__ calls os.system("touch OUT_DIR/marker"):
                            importing them must neither run it nor accept the file
  small.pth, small_legacy.pth
                            {"a": a strided view, "b": int64}: truncated copies are made by
                            the test

Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
"""
import collections
import os
import pickle
import sys

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import save  # noqa: E402  (the hand-written safetensors writer)


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, ("touch " + self.marker,))


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    model = torchvision.models.resnet18()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.num_batches_tracked.fill_(7)
    sd = model.state_dict()
    torch.save(sd, f"{out}/resnet18.pth")
    torch.save(sd, f"{out}/resnet18_legacy.pth", _use_new_zipfile_serialization=False)
    save(f"{out}/resnet18_ref.safetensors", sd)
    timm = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    save(f"{out}/resnet18_timm.safetensors", timm)

    torch.save(torchvision.models.resnet34().state_dict(), f"{out}/resnet34.pth")
    r50 = torchvision.models.resnet50().state_dict()
    part = collections.OrderedDict(list(r50.items())[:12])
    torch.save(part, f"{out}/resnet50_part.pth")

    marker = f"{out}/marker"
    torch.save({"conv1.weight": Evil(marker)}, f"{out}/evil_zip.pth")
    torch.save({"conv1.weight": Evil(marker)}, f"{out}/evil_legacy.pth",
               _use_new_zipfile_serialization=False)
    with open(f"{out}/evil.pkl", "wb") as f:
        f.write(pickle.dumps(Evil(marker), protocol=2))

    small = collections.OrderedDict(a=torch.arange(12.0).reshape(3, 4)[:, 1:3],
                                    b=torch.tensor([1, 2], dtype=torch.int64))
    torch.save(small, f"{out}/small.pth")
    torch.save(small, f"{out}/small_legacy.pth", _use_new_zipfile_serialization=False)
    save(f"{out}/small_ref.safetensors", {k: v.contiguous() for k, v in small.items()})


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Writes the torchvision reference for resnet_parity_test.cc into OUT_DIR:

  resnet18.safetensors   state_dict of torchvision.models.resnet18(num_classes=10), seed 0
  io.safetensors         "input" [2,3,64,64] and "logits" (eval mode), metadata
                         "resnet50_params" = parameter count of resnet50(num_classes=1000)

The safetensors format is written by hand (struct + json) because python3-safetensors is not
a Debian package here. Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
"""
import json
import struct
import sys

import torch
import torchvision

DTYPES = {
    torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.uint8: "U8",
}


def save(path, tensors, metadata=None):
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes() if t.dtype != torch.bfloat16 else \
            t.view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    # Random running statistics, so that the test also proves the buffers are loaded.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    model.eval()
    save(f"{out}/resnet18.safetensors", model.state_dict())

    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        logits = model(x)
    r50 = sum(p.numel() for p in torchvision.models.resnet50().parameters())
    save(f"{out}/io.safetensors", {"input": x, "logits": logits},
         {"resnet50_params": str(r50), "torchvision": torchvision.__version__})


if __name__ == "__main__":
    main()

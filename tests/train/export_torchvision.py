#!/usr/bin/python3
"""Writes torchvision references for the parity tests into OUT_DIR.

export_torchvision.py OUT_DIR (resnet_parity_test.cc):
  resnet18.safetensors   state_dict of torchvision.models.resnet18(num_classes=10), seed 0
  io.safetensors         "input" [2,3,64,64] and "logits" (eval mode), metadata
                         "resnet50_params" = parameter count of resnet50(num_classes=1000)

export_torchvision.py OUT_DIR ARCH... (models_parity_test.cc), for each ARCH:
  ARCH.safetensors       state_dict of torchvision.models.ARCH(num_classes=10), seed 0, with
                         non-trivial batch-norm statistics, layer scales and head (torchvision
                         starts ViT's head at zero and ConvNeXt's layer scale at 1e-6, which
                         would hide most of the network from the comparison)
  ARCH_io.safetensors    "input" (2 images of 64x64, 1 of 224x224 for ViT), "logits" and
                         "probabilities" in eval mode; metadata "state_entries" (len of the
                         state_dict), "params" (parameter count at 1000 classes), "torchvision"

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


# Where torchvision registers each architecture's classifier head.
HEADS = {"mobilenet_v3_large": "classifier.3", "efficientnet_b0": "classifier.1",
         "convnext_tiny": "classifier.2", "vit_b_16": "heads.head"}


def export_arch(out, arch):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=10)
    with torch.no_grad():
        # Batch-norm statistics measured on random images (plain random ones let the signal of
        # the deeper nets die out, so that every input gave the same output), then the affine
        # parameters moved off their ones and zeros.
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        if bns:
            model.train()
            model(torch.randn(4, 3, 64, 64))
        for m in bns:
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.1, 0.1)
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.2, 0.5)
        head = dict(model.named_modules())[HEADS[arch]]
        head.weight.normal_(0, 2.0 / head.in_features ** 0.5)
        head.bias.uniform_(-0.5, 0.5)
    model.eval()
    side = 224 if arch.startswith("vit") else 64
    x = torch.randn(1 if arch.startswith("vit") else 2, 3, side, side)
    with torch.no_grad():
        # Logits of spread 2, so that the probabilities neither saturate nor stay uniform.
        scale = 2.0 / model(x).std().item()
        head.weight.mul_(scale)
        head.bias.mul_(scale)
        logits = model(x)
    save(f"{out}/{arch}.safetensors", model.state_dict())
    params = sum(p.numel() for p in getattr(torchvision.models, arch)().parameters())
    save(f"{out}/{arch}_io.safetensors",
         {"input": x, "logits": logits, "probabilities": torch.softmax(logits, 1)},
         {"state_entries": str(len(model.state_dict())), "params": str(params),
          "torchvision": torchvision.__version__})


def main():
    out = sys.argv[1]
    if len(sys.argv) > 2:
        for arch in sys.argv[2:]:
            export_arch(out, arch)
        return
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

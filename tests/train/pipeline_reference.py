#!/usr/bin/python3
"""Writes the torchvision reference for pipeline_parity_test.cc into OUT_DIR.

  rgb.png (37x53), gray.png (61x29), photo.jpg (97x83, YCbCr): odd-sized image files (the CNNs
                         enlarge the PNGs and shrink the JPEG, antialiased)
  ARCH.pth               torch.save of torchvision.models.ARCH(num_classes=10).state_dict(),
                         seed 0, batch-norm statistics measured on the inputs and affine
                         parameters, layer scales and head moved off their initial values
                         (resnet18's in the legacy format, the others in the zip format)
  reference.safetensors  "ARCH": probabilities [images, 10] in eval mode, metadata "cases":
                         JSON list of {arch, file, images, resize, crop}, "torchvision"

Each image goes through torchvision's standard eval transforms: PIL.Image.open(p).convert("RGB")
-> pil_to_tensor -> Resize(resize, antialias=True) -> CenterCrop(crop) -> convert_image_dtype
-> Normalize(ImageNet mean, std). The CNNs use crop 64, resize round(64 * 256 / 224) = 73 (what
vrepo's --image-size 64 gives); ViT its native 224 / 256 (the positional embedding). One
process for every architecture: importing torch costs more than the small models. Run with
Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
"""
import json
import os
import sys

import numpy
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import HEADS, save  # noqa: E402
import reference_images  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CASES = [
    ("resnet18", 73, 64, ["rgb.png", "gray.png", "photo.jpg"]),
    ("mobilenet_v3_large", 73, 64, ["rgb.png", "gray.png", "photo.jpg"]),
    ("efficientnet_b0", 73, 64, ["rgb.png", "gray.png", "photo.jpg"]),
    ("convnext_tiny", 73, 64, ["rgb.png", "gray.png", "photo.jpg"]),
    ("vit_b_16", 256, 224, ["gray.png", "photo.jpg"]),
]


def write_images(out):
    rng = numpy.random.default_rng(16)

    def noise(h, w, c):
        return reference_images.noise(rng, h, w, c)

    Image.fromarray(noise(53, 37, 3), "RGB").save(f"{out}/rgb.png")
    Image.fromarray(noise(29, 61, 1)[..., 0], "L").save(f"{out}/gray.png")
    Image.fromarray(noise(83, 97, 3), "RGB").save(f"{out}/photo.jpg", quality=90)


def eval_input(path, resize, crop):
    x = F.pil_to_tensor(Image.open(path).convert("RGB"))
    x = T.Resize(resize, antialias=True)(x)
    x = T.CenterCrop(crop)(x)
    x = F.convert_image_dtype(x, torch.float)
    return T.Normalize(MEAN, STD)(x)


def randomized(arch, x):
    """torchvision's ARCH(num_classes=10) with weights no checkpoint loader could fake."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=10)
    with torch.no_grad():
        # Batch-norm statistics measured on these inputs plus noise (so that the signal neither
        # dies out nor is normalized to the trivial statistics), then the affine parameters
        # moved off their ones and zeros.
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        if bns:
            model.train()
            model(torch.cat([x, torch.randn(2, *x.shape[1:])]))
        for m in bns:
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.1, 0.1)
        for name, p in model.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.2, 0.5)
        # torchvision starts ViT's head at zero: give it weights, then logits of spread 2, so
        # that the probabilities neither saturate nor stay uniform.
        head = dict(model.named_modules())[dict(HEADS, resnet18="fc")[arch]]
        head.weight.normal_(0, 2.0 / head.in_features ** 0.5)
        head.bias.uniform_(-0.5, 0.5)
        model.eval()
        scale = 2.0 / model(x).std().item()
        head.weight.mul_(scale)
        head.bias.mul_(scale)
    return model


def main():
    out = sys.argv[1]
    write_images(out)
    cases, tensors = [], {}
    for arch, resize, crop, images in CASES:
        x = torch.stack([eval_input(f"{out}/{f}", resize, crop) for f in images])
        model = randomized(arch, x)
        with torch.no_grad():
            tensors[arch] = torch.softmax(model(x), 1)
        # The .pth a user has: torch.save of the state_dict, both of torch's formats.
        torch.save(model.state_dict(), f"{out}/{arch}.pth",
                   _use_new_zipfile_serialization=(arch != "resnet18"))
        cases.append({"arch": arch, "file": f"{arch}.pth", "images": images, "resize": resize,
                      "crop": crop})
    save(f"{out}/reference.safetensors", tensors,
         {"cases": json.dumps(cases), "torchvision": torchvision.__version__})


if __name__ == "__main__":
    main()

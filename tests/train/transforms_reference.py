#!/usr/bin/python3
"""Writes the torchvision reference for transforms_test.cc into OUT_DIR:

  rgb.png (37x53), gray.png (61x29), rgba.png (45x30), cmyk.jpg (40x33, written by PIL: Adobe
  inverted CMYK), photo.jpg (50x41, YCbCr), tiny.png (9x7)
  reference.safetensors  "<case>": the image through torchvision's standard eval transforms,
                         metadata "cases": JSON list of {name, file, preprocessing}

The pipeline: PIL.Image.open(p).convert("RGB" or "L") -> pil_to_tensor -> Resize(resize,
antialias=True) on the uint8 tensor -> CenterCrop(crop) -> convert_image_dtype(float) ->
Normalize(mean, std). Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
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
from export_torchvision import save  # noqa: E402
import reference_images  # noqa: E402

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "channels": 3}
GRAY = {"mean": [0.5], "std": [0.5], "channels": 1}


def pre(resize, crop, norm):
    return dict(norm, resize=resize, crop=crop, interpolation="bilinear")


def main():
    out = sys.argv[1]
    rng = numpy.random.default_rng(16)

    def noise(h, w, c):
        return reference_images.noise(rng, h, w, c)

    Image.fromarray(noise(53, 37, 3), "RGB").save(f"{out}/rgb.png")
    Image.fromarray(noise(29, 61, 1)[..., 0], "L").save(f"{out}/gray.png")
    Image.fromarray(noise(30, 45, 4), "RGBA").save(f"{out}/rgba.png")
    Image.fromarray(noise(33, 40, 4), "CMYK").save(f"{out}/cmyk.jpg", quality=90)
    Image.fromarray(noise(41, 50, 3), "RGB").save(f"{out}/photo.jpg", quality=90)
    Image.fromarray(noise(7, 9, 3), "RGB").save(f"{out}/tiny.png")

    cases = []
    for f in ["rgb.png", "gray.png", "rgba.png", "cmyk.jpg", "photo.jpg", "tiny.png"]:
        # resize 37 / crop 32 is --image-size 32 on the ImageNet defaults: it shrinks some
        # images, enlarges others, and takes crops at half-pixel offsets (Python's rounding).
        cases.append({"name": f + "/imagenet32", "file": f, "preprocessing": pre(37, 32, IMAGENET)})
        cases.append({"name": f + "/gray28", "file": f, "preprocessing": pre(28, 28, GRAY)})
    # A resize below the crop: CenterCrop pads with zeros.
    cases.append({"name": "rgb.png/pad", "file": "rgb.png", "preprocessing": pre(20, 32, IMAGENET)})
    cases.append({"name": "gray.png/odd", "file": "gray.png", "preprocessing": pre(19, 17, GRAY)})

    tensors = {}
    for case in cases:
        p = case["preprocessing"]
        img = Image.open(f"{out}/{case['file']}").convert("RGB" if p["channels"] == 3 else "L")
        x = F.pil_to_tensor(img)
        x = T.Resize(p["resize"], antialias=True)(x)
        x = T.CenterCrop(p["crop"])(x)
        x = F.convert_image_dtype(x, torch.float)
        x = T.Normalize(p["mean"], p["std"])(x)
        tensors[case["name"]] = x
    save(f"{out}/reference.safetensors", tensors,
         {"cases": json.dumps(cases), "torchvision": torchvision.__version__})


if __name__ == "__main__":
    main()

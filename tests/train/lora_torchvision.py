#!/usr/bin/python3
"""The torchvision side of lora_test.cc's export test. Run with Debian's /usr/bin/python3
(torch 1.13, torchvision 0.14).

  data OUT     OUT/base.safetensors: torchvision resnet18(num_classes=10), seed 0, batch-norm
               statistics made non-trivial; OUT/repo/images/{red,blue}/N.png: 16 RGB images
               of odd sizes; OUT/repo/labels.csv (path,label)
  check EXPORT [PREDICT_JSON IMAGE...]
               loads EXPORT/model.safetensors into torchvision.models.resnet18(num_classes=N)
               with strict=True; with PREDICT_JSON (`vrepo predict --json` on IMAGE...),
               classifies the images through EXPORT/preprocessing.json as torchvision does
               and checks the top class and probabilities (within 1e-4) against it.
Exit status 0 when everything matched; a line on stderr says what did not.
"""
import json
import os
import struct
import sys

import torch
import torchvision
from torchvision.io import read_image, ImageReadMode
import torchvision.transforms.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_torchvision import save  # noqa: E402

DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
          "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=DTYPES[info["dtype"]])
        out[name] = t.reshape(info["shape"]).clone()
    return out


def data(out):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    save(f"{out}/base.safetensors", model.state_dict())
    rows = ["path,label"]
    for i in range(16):
        label = "red" if i % 2 == 0 else "blue"
        h, w = 37 + 3 * i, 45 - i
        img = torch.randint(0, 120, (3, h, w), dtype=torch.uint8)
        img[0 if label == "red" else 2] += 120
        os.makedirs(f"{out}/repo/images/{label}", exist_ok=True)
        path = f"images/{label}/{i:02d}.png"
        torchvision.io.write_png(img, f"{out}/repo/{path}")
        rows.append(f"{path},{label}")
    with open(f"{out}/repo/labels.csv", "w") as f:
        f.write("\n".join(rows) + "\n")


def check(export, predict_json=None, images=()):
    classes = json.load(open(f"{export}/classes.json"))
    pre = json.load(open(f"{export}/preprocessing.json"))
    model = torchvision.models.resnet18(num_classes=len(classes))
    model.load_state_dict(load(f"{export}/model.safetensors"), strict=True)
    model.eval()
    if predict_json is None:
        return 0
    predicted = json.load(open(predict_json))
    mode = ImageReadMode.RGB if pre["channels"] == 3 else ImageReadMode.GRAY
    for entry, path in zip(predicted, images):
        x = read_image(path, mode)
        x = F.resize(x, pre["resize"], antialias=True)
        x = F.center_crop(x, pre["crop"])
        x = F.normalize(x.float() / 255, pre["mean"], pre["std"])
        with torch.no_grad():
            probs = torch.softmax(model(x.unsqueeze(0)), 1)[0]
        top = entry["top"]
        if top[0]["index"] != int(probs.argmax()):
            print(f"{path}: vrepo predicts {top[0]['index']}, torchvision {int(probs.argmax())}",
                  file=sys.stderr)
            return 1
        for t in top:
            diff = abs(t["probability"] - float(probs[t["index"]]))
            if diff > 1e-4:
                print(f"{path}: class {t['index']} probability differs by {diff}", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "data":
        data(sys.argv[2])
        sys.exit(0)
    sys.exit(check(sys.argv[2], *(sys.argv[3:4] or [None]), images=sys.argv[4:]))

#!/usr/bin/python3
"""A class-folder view of a vrepo checkout for torchvision's ImageFolder: VIEW/SPLIT/LABEL/NAME
symbolic links to the exported PNG files, one SPLIT per label table (path,label CSV).

usage: bench/class_view.py REPO VIEW SPLIT=TABLE [SPLIT=TABLE ...]
"""
import csv
import os
import sys


def main():
    repo, view, specs = sys.argv[1], sys.argv[2], sys.argv[3:]
    for spec in specs:
        split, table = spec.split("=", 1)
        for row in csv.DictReader(open(os.path.join(repo, table))):
            folder = os.path.join(view, split, row["label"])
            os.makedirs(folder, exist_ok=True)
            name = os.path.basename(row["path"])
            os.symlink(os.path.join(repo, row["path"]), os.path.join(folder, name))


if __name__ == "__main__":
    main()

"""Test images the reference scripts share: smooth gradients plus noise, so that both a
resize filter and its rounding matter."""
import numpy


def noise(rng, h, w, c):
    """An h x w x c uint8 image drawn from numpy Generator `rng`."""
    y, x = numpy.mgrid[0:h, 0:w]
    base = (x * 255 // max(w - 1, 1) + y * 97 // max(h - 1, 1))[..., None]
    img = (base + rng.integers(0, 80, (h, w, c))) % 256
    return img.astype(numpy.uint8)

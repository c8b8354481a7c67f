"""A minimal PNG writer (no plotting library needed for the demo's pictures)."""

from __future__ import annotations

import struct
import zlib

import numpy as np


def write_png(path, rgb: np.ndarray) -> None:
    """Write an (height, width, 3) uint8 array as an RGB PNG."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                + chunk(b"IEND", b""))


def scatter(xs, ys, groups, width: int = 480, height: int = 320) -> np.ndarray:
    """A plain scatter plot: points coloured by group, on white with axes."""
    img = np.full((height, width, 3), 255, np.uint8)
    img[height - 20, 30:] = img[:height - 20, 30] = 0
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    px = 32 + (xs - xs.min()) / max(np.ptp(xs), 1e-12) * (width - 40)
    py = height - 22 - ys * (height - 40)
    palette = np.array([[228, 26, 28], [55, 126, 184], [77, 175, 74], [152, 78, 163], [255, 127, 0]])
    for x, y, g in zip(px.astype(int), py.astype(int), groups, strict=True):
        img[max(y - 2, 0):y + 3, max(x - 2, 0):x + 3] = palette[g % len(palette)]
    return img


def heat(counts: np.ndarray, limit: int) -> np.ndarray:
    """Escape counts as colours (black inside the set)."""
    t = np.clip(counts / max(limit, 1), 0, 1)
    rgb = np.stack([9 * (1 - t) * t ** 3, 15 * (1 - t) ** 2 * t ** 2, 8.5 * (1 - t) ** 3 * t], axis=-1)
    rgb = (np.clip(rgb, 0, 1) * 255).astype(np.uint8)
    rgb[counts >= limit] = 0
    return rgb

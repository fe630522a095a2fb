"""Gain (dB) <-> RadioMapSeer gray scale, the one place where that mapping lives.

RadioMapSeer stores path gain as 8-bit PNGs: gain clipped to [floor, ceiling] dB and scaled
linearly to 0..255, buildings at 0. The constants are the dataset's (RadioUNet, Levie et al. 2021):
the strongest gain in the data set is -47.84 dB and gains below the analytic threshold -147 dB are
truncated. RadioDiff reads the PNG, divides by 255 and maps to [-1, 1].
"""

from __future__ import annotations

import numpy as np

GAIN_FLOOR_DB = -147.0
GAIN_CEILING_DB = -47.84


def db_to_gray(gain_db: np.ndarray, floor_db: float = GAIN_FLOOR_DB,
               ceiling_db: float = GAIN_CEILING_DB) -> np.ndarray:
    """Map path gain in dB to uint8 gray (clip to [floor, ceiling], scale to 0..255)."""
    g = np.clip(np.asarray(gain_db, dtype=np.float64), floor_db, ceiling_db)
    return np.rint((g - floor_db) / (ceiling_db - floor_db) * 255.0).astype(np.uint8)


def gray_to_db(gray: np.ndarray, floor_db: float = GAIN_FLOOR_DB,
               ceiling_db: float = GAIN_CEILING_DB) -> np.ndarray:
    """Inverse of :func:`db_to_gray` (up to quantization); 0 maps to the floor."""
    return floor_db + np.asarray(gray, dtype=np.float64) / 255.0 * (ceiling_db - floor_db)


def gray_to_unit(gray: np.ndarray) -> np.ndarray:
    """uint8 gray -> float32 in [-1, 1], RadioDiff's normalization (x / 255 * 2 - 1)."""
    return np.asarray(gray, dtype=np.float32) / 255.0 * 2.0 - 1.0

"""A run's configuration, flattened to the few keys the analysis needs."""

from __future__ import annotations

import math
from typing import Any

# flattened key -> where RadioDiff's config (first_radio.yaml, printed by logger.info(cfg)) keeps it;
# model.params.* / lightning.trainer.*: latent-diffusion's and taming's project configs
_PLACES: dict[str, list[tuple[str, ...]]] = {
    "disc_start": [("model", "lossconfig", "disc_start"), ("model", "lossconfig", "params", "disc_start"),
                   ("lossconfig", "disc_start"), ("loss", "disc_start"), ("disc_start",),
                   ("model", "params", "lossconfig", "params", "disc_start")],
    "kl_weight": [("model", "lossconfig", "kl_weight"), ("model", "lossconfig", "params", "kl_weight"),
                  ("lossconfig", "kl_weight"), ("loss", "kl_weight"), ("kl_weight",),
                  ("model", "params", "lossconfig", "params", "kl_weight")],
    "disc_weight": [("model", "lossconfig", "disc_weight"),
                    ("model", "lossconfig", "params", "disc_weight"), ("lossconfig", "disc_weight"),
                    ("loss", "disc_weight"), ("disc_weight",),
                    ("model", "params", "lossconfig", "params", "disc_weight")],
    "total_steps": [("trainer", "train_num_steps"), ("train_num_steps",), ("total_steps",),
                    ("lightning", "trainer", "max_steps")],
    "log_freq": [("trainer", "log_freq"), ("log_freq",)],
    "lr": [("trainer", "lr"), ("trainer", "train_lr"), ("lr",)],
    "min_lr": [("trainer", "min_lr"), ("min_lr",)],
    "batch_size": [("data", "batch_size"), ("trainer", "batch_size"), ("batch_size",),
                   ("data", "params", "batch_size")],
    "gradient_accumulate_every": [("trainer", "gradient_accumulate_every"),
                                  ("gradient_accumulate_every",),
                                  ("lightning", "trainer", "accumulate_grad_batches")],
}
# settings that are words or switches (radiovae's own config.yaml keeps them; RadioDiff's has none)
_WORDS: dict[str, tuple[tuple[str, ...], type]] = {
    "train_logvar": (("trainer", "train_logvar"), bool),
    "min_lr_mode": (("trainer", "min_lr_mode"), str),
    "adaptive_weight": (("model", "lossconfig", "adaptive_weight"), str),
}
_PLACES["d_weight_max"] = [("model", "lossconfig", "d_weight_max")]
_INTS = {"disc_start", "total_steps", "log_freq", "batch_size", "gradient_accumulate_every"}


KNOWN_KEYS = {place[0] for places in _PLACES.values() for place in places}


def looks_like_config(value: Any) -> bool:
    """A dict that holds at least one key a training config has (a JSON record does not)."""
    return isinstance(value, dict) and any(isinstance(k, str) and k in KNOWN_KEYS for k in value)


def flatten_config(raw: dict[str, Any] | None) -> dict[str, Any]:
    """``{"disc_start": 50001, "kl_weight": 1e-06, ..., "raw": raw}``: only the keys found."""
    flat: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return flat
    for key, places in _PLACES.items():
        for place in places:
            value = _get(raw, place)
            number = _number(value)
            if number is not None and (key not in _INTS or (
                    (0 if key == "disc_start" else 1) <= number <= 2 ** 53
                    and float(number).is_integer())):
                flat[key] = int(number) if key in _INTS else number
                break
    for key, (place, kind) in _WORDS.items():
        value = _get(raw, place)
        if isinstance(value, kind):
            flat[key] = value
    flat["raw"] = raw
    return flat


def _get(d: Any, place: tuple[str, ...]) -> Any:
    for key in place:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _number(value: Any) -> float | None:
    """A finite number (1e999, .inf, NaN and 10**400 are not settings: ignored)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):  # YAML 1.1 reads "5e-6" as a string
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int):
        return value if abs(value) <= 2 ** 63 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None

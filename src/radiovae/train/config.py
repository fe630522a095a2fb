"""Training config: RadioDiff's ``first_radio.yaml`` keys, defaults filled, every key checked.

A config is a nested dict with three sections, ``model``, ``data`` and ``trainer``. :data:`DEFAULTS`
is the schema: every key a user may write, with its default, and its type is the default's type
(``None`` defaults say their types in :data:`_TYPES`). RadioDiff's own config files load as they are
(``data.name: radio`` means RadioMapSeer; ``results_folder`` and ``resume_milestone`` are accepted
and ignored: the run dir and its latest checkpoint decide where a run lives and resumes).
"""

from __future__ import annotations

import copy
import difflib
import os
from pathlib import Path
from typing import Any

import yaml

from radiovae.errors import UserError

DEFAULTS: dict[str, Any] = {
    "model": {
        "embed_dim": 3,
        "lossconfig": {
            "disc_start": 50001,         # first step of phase 2 (VAE-GAN)
            "kl_weight": 1e-6,
            "disc_weight": 0.5,          # multiplies the adaptive d_weight
            "disc_in_channels": 1,
            "disc_loss": "hinge",        # hinge | vanilla
            "disc_factor": 1.0,
            "disc_num_layers": 3,
            "disc_ndf": 64,
            "perceptual_weight": 0.0,    # no VGG weights can be downloaded: LPIPS is off
            "pixelloss_weight": 1.0,
            "logvar_init": 0.0,
            "use_actnorm": False,
            "disc_conditional": False,
        },
        "ddconfig": {
            "double_z": True,
            "z_channels": 3,
            "resolution": 256,           # int or [H, W]
            "in_channels": 1,
            "out_ch": 1,
            "ch": 128,
            "ch_mult": [1, 2, 4],        # len(ch_mult) - 1 downsamplings
            "num_res_blocks": 2,
            "attn_resolutions": [],
            "dropout": 0.0,
        },
        "ckpt_path": None,               # initial weights (ours or RadioDiff's model-N.pt)
    },
    "data": {
        "name": "synthetic",             # synthetic | radiomapseer (alias: radio) | folder
        "batch_size": 2,
        "num_workers": 0,
        "size": 256,                     # map side in pixels (synthetic; resize for the others)
        "root": None,                    # radiomapseer / folder
        "simulation": "DPM",             # radiomapseer: DPM | IRT2 | IRT4 | SYN (radiovae data synth)
        "cars": False,
        "split_scheme": "radiodiff",     # radiomapseer: radiodiff (RadioDiff's ranges) | disjoint
        "num_maps": 64,                  # synthetic: city maps in the training split
        "tx_per_map": 4,                 # synthetic: transmitters per city map
        "eval_num_maps": 8,              # synthetic: held-out maps in the val / test splits
        "seed": 0,
    },
    "trainer": {
        "gradient_accumulate_every": 1,  # micro-batches per optimizer step (true accumulation)
        "lr": 5e-6,
        "min_lr": 5e-7,                  # absolute floor on the learning rate
        "train_num_steps": 150000,
        "save_and_sample_every": 5000,
        "log_freq": 100,
        "amp": False,                    # bf16 autocast (or fp16 if fp16 is set)
        "fp16": False,                   # fp16 autocast with a gradient scaler
        "ema_decay": 0.995,
        "ema_update_every": 10,
        "grad_clip": 1.0,
        "weight_decay": 0.01,            # AdamW's default, as RadioDiff
        "max_nonfinite_in_a_row": 5,     # stop the run after this many skipped steps in a row
        "num_samples": 4,                # maps in each samples/ grid
        "seed": 0,
        "device": "auto",                # auto | cpu | cuda | cuda:N
        "results_folder": None,          # RadioDiff's; ignored (the run dir is --run-dir)
        "resume_milestone": None,        # RadioDiff's; ignored (resume is from the latest checkpoint)
    },
}

# Types of keys whose default does not say it (None) or that accept more than one type.
_TYPES: dict[str, tuple[type, ...]] = {
    "model.ddconfig.resolution": (int, list),
    "model.ckpt_path": (str,),
    "data.root": (str,),
    "trainer.results_folder": (str,),
    "trainer.resume_milestone": (int,),
}
_CHOICES = {
    "data.name": ("synthetic", "radiomapseer", "radio", "folder"),
    "model.lossconfig.disc_loss": ("hinge", "vanilla"),
    "data.split_scheme": ("radiodiff", "disjoint"),
}
_POSITIVE = {
    "model.embed_dim", "model.ddconfig.z_channels", "model.ddconfig.ch", "model.ddconfig.in_channels",
    "model.ddconfig.out_ch", "data.batch_size", "data.size", "data.num_maps", "data.tx_per_map",
    "data.eval_num_maps", "trainer.gradient_accumulate_every", "trainer.lr",
    "trainer.train_num_steps", "trainer.save_and_sample_every", "trainer.log_freq",
    "trainer.ema_update_every", "trainer.max_nonfinite_in_a_row", "trainer.num_samples",
    "model.ddconfig.num_res_blocks",
}

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def _type_name(types: tuple[type, ...]) -> str:
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string",
             list: "a list", dict: "a mapping"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check(user: dict, schema: dict, prefix: str, source: str) -> dict:
    """Merge ``user`` over ``schema`` (its defaults), refusing unknown keys and wrong types."""
    if not isinstance(user, dict):
        raise UserError(f"{source}: '{prefix.rstrip('.') or 'config'}' must be a mapping, "
                        f"got {type(user).__name__}")
    out = copy.deepcopy(schema)
    for key, value in user.items():
        name = f"{prefix}{key}"
        if key not in schema:
            close = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.6)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else \
                f"; known keys: {', '.join(schema)}"
            raise UserError(f"{source}: unknown config key '{name}'{hint}")
        default = schema[key]
        if isinstance(default, dict):
            out[key] = _check(value if value is not None else {}, default, f"{name}.", source)
            continue
        if value is None:
            if default is not None and name not in _TYPES:
                raise UserError(f"{source}: config key '{name}' must not be empty")
            out[key] = None
            continue
        types = _TYPES.get(name) or (type(default),)
        if float in types and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)                  # 1 means 1.0 for a float key
        if isinstance(value, str) and float in types:
            try:                                  # PyYAML reads 5e-6 (no dot) as a string
                value = float(value)
            except ValueError:
                pass
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise UserError(f"{source}: config key '{name}' must be {_type_name(types)}, "
                            f"got {value!r}")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise UserError(f"{source}: config key '{name}' must be one of "
                            f"{', '.join(_CHOICES[name])}, got {value!r}")
        if name in _POSITIVE and not value > 0:
            raise UserError(f"{source}: config key '{name}' must be positive, got {value!r}")
        out[key] = value
    return out


def _check_consistency(cfg: dict, source: str) -> None:
    dd, tr, data = cfg["model"]["ddconfig"], cfg["trainer"], cfg["data"]
    if not all(isinstance(m, int) and m > 0 for m in dd["ch_mult"]) or not dd["ch_mult"]:
        raise UserError(f"{source}: model.ddconfig.ch_mult must be a list of positive integers")
    res = dd["resolution"]
    if isinstance(res, list) and (len(res) != 2 or not all(isinstance(r, int) for r in res)):
        raise UserError(f"{source}: model.ddconfig.resolution must be an integer or [H, W]")
    if not 0.0 <= tr["min_lr"] <= tr["lr"]:
        raise UserError(f"{source}: trainer.min_lr must be between 0 and trainer.lr "
                        f"({tr['min_lr']} vs {tr['lr']})")
    if not 0.0 <= tr["ema_decay"] < 1.0:
        raise UserError(f"{source}: trainer.ema_decay must be in [0, 1), got {tr['ema_decay']}")
    if data["name"] in ("radiomapseer", "radio", "folder") and not data["root"]:
        raise UserError(f"{source}: data.root is required for data.name '{data['name']}'")
    if data["num_workers"] < 0:
        raise UserError(f"{source}: data.num_workers must be >= 0")
    down = 2 ** (len(dd["ch_mult"]) - 1)
    if data["size"] % down:
        raise UserError(f"{source}: data.size {data['size']} must be divisible by {down} "
                        f"(2 ** (len(ch_mult) - 1))")


def resolve_config(user: dict | None, source: str = "config") -> dict:
    """Defaults filled, keys and types checked; raises UserError naming the offending key."""
    cfg = _check(user or {}, DEFAULTS, "", source)
    if cfg["data"]["name"] == "radio":
        cfg["data"]["name"] = "radiomapseer"
    _check_consistency(cfg, source)
    return cfg


def find_config(name: str | os.PathLike) -> Path:
    """A config file path, or the name of one that ships with radiovae (``cpu_small``)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / (path.name if path.suffix else f"{path.name}.yaml")
    if not path.parent.parts and shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise UserError(f"config file not found: {name} (shipped configs: {known})")


def load_config(path: str | os.PathLike) -> dict:
    """Read a YAML config (``yaml.safe_load``) and resolve it."""
    path = find_config(path)
    try:
        user = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read config {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    return resolve_config(user, source=str(path))


def dump_config(cfg: dict) -> str:
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None)

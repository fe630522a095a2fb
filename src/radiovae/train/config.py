"""Training config: typed dataclasses (the one home of every default), RadioDiff's files as written.

A config has three sections, ``model``, ``data`` and ``trainer``; :class:`TrainConfig` and its
parts are the schema: every key a user may write, its type and its default. A YAML file (ours or
RadioDiff's ``first_radio.yaml``), a dict, and ``--set key=value`` overrides all resolve into it
(:func:`resolve_config`), every key checked; unknown keys are refused with a suggestion.

RadioDiff's first-stage configs load as they are written. Their keys that mean something else or
nothing here are mapped or named, never silently dropped (``TrainConfig.notes``, shown at the top of
train.log and in the run dir's config.yaml):

* ``data.name: radio`` is RadioMapSeer; RadioDiff has its location in code, so it comes from
  ``data.root`` (``--set data.root=DIR``). ``data.name: edge`` + ``img_folder`` is a folder of maps.
* ``trainer.gradient_accumulate_every`` keeps RadioDiff's meaning (train_vae.py): pass 0 updates the
  autoencoder, passes 1.. the discriminator, all on the same batch; 2 = one G and one D update per
  batch of ``batch_size``, 1 = the discriminator is never stepped. Micro-batch accumulation is
  radiovae's own key, ``trainer.micro_batches``.
* ``trainer.results_folder``, ``trainer.resume_milestone``, ``data.augment_horizontal_flip``
  have no effect here (the run dir is ``--run-dir``; resume is from its latest checkpoint).
"""

from __future__ import annotations

import copy
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from radiovae.errors import UserError, brief
from radiovae.model.config import DDConfig, LossConfig, MappingMixin, ModelConfig


@dataclass
class DataConfig(MappingMixin):
    name: str = "synthetic"          # synthetic | radiomapseer (RadioDiff: radio) | folder (edge)
    batch_size: int = 2              # per process (RadioDiff's is global: split_batches=True)
    num_workers: int = 0
    size: int = 256                  # map side in pixels (synthetic; resize for the others)
    root: str | None = None          # radiomapseer / folder
    simulation: str = "auto"         # radiomapseer: DPM | IRT2 | IRT4 | SYN (radiovae data synth)
    #                                  auto: DPM (RadioDiff's) if present, else the only one there
    cars: bool = False
    split_scheme: str = "radiodiff"  # radiomapseer: radiodiff (RadioDiff's ranges) | disjoint
    num_maps: int = 64               # synthetic: city maps in the training split
    tx_per_map: int = 4              # synthetic: transmitters per city map
    eval_num_maps: int = 8           # synthetic: held-out maps in the val / test splits
    regime: str = "street"           # synthetic: street | above_roof | mixed | grid (the first
                                     # generator's grid-block maps, which the demo uses)
    seed: int = 0


@dataclass
class TrainerConfig(MappingMixin):
    # RadioDiff's meaning: passes per batch, pass 0 = G update, passes >= 1 = D updates (each loss
    # / gradient_accumulate_every). 1: the discriminator is never stepped.
    gradient_accumulate_every: int = 2
    micro_batches: int = 1           # radiovae: true accumulation over this many batches per step
    lr: float = 5e-6
    min_lr: float = 5e-7
    min_lr_mode: str = "absolute"    # absolute: LR floor | radiodiff: floor on the factor
    train_num_steps: int = 150000
    save_and_sample_every: int = 5000
    log_freq: int = 100
    amp: bool = False                # bf16 autocast (or fp16 if fp16 is set)
    fp16: bool = False               # fp16 autocast with a gradient scaler
    ema_schedule: str = "radiodiff"  # radiodiff (ema.py) | tf_warmup: min(decay, (1+n)/(10+n))
    ema_decay: float = 0.995         # RadioDiff's Trainer default (its configs cannot set it)
    ema_update_every: int = 10
    ema_update_after_step: int = 100   # radiodiff: weights are copied until this step
    ema_power: float = 2 / 3           # radiodiff: decay = 1 - (1 + n / ema_inv_gamma) ** -power
    ema_inv_gamma: float = 1.0
    ema_scope: str = "all"           # all: autoencoder + logvar + discriminator (RadioDiff)
    grad_clip: float | None = 1.0    # per optimizer, before its step; null: no clipping
    weight_decay: float = 0.01       # AdamW's default, as RadioDiff (never on logvar)
    train_logvar: bool = True        # RadioDiff: false (logvar is in no optimizer, stays 0)
    max_nonfinite_in_a_row: int = 5  # stop the run after this many skipped steps in a row
    num_samples: int = 4             # maps in each samples/ grid
    seed: int = 0
    device: str = "auto"             # auto | cpu | cuda | cuda:N


@dataclass
class TrainConfig(MappingMixin):
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    _notes: list[str] = field(default_factory=list)   # what was mapped or ignored, for the run dir

    @property
    def notes(self) -> list[str]:
        return self._notes

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        m = d["model"]
        model = ModelConfig(**{**m, "lossconfig": LossConfig(**m["lossconfig"]),
                               "ddconfig": DDConfig(**m["ddconfig"])})
        return cls(model, DataConfig(**d["data"]), TrainerConfig(**d["trainer"]))


DEFAULTS: dict[str, Any] = TrainConfig().as_dict()

# Types of keys whose default does not say it (None) or that accept more than one type.
_TYPES: dict[str, tuple[type, ...]] = {
    "model.ddconfig.resolution": (int, list),
    "model.ckpt_path": (str,),
    "data.root": (str,),
    "trainer.grad_clip": (float,),
}
_CHOICES = {
    "data.name": ("synthetic", "radiomapseer", "folder"),
    "model.lossconfig.disc_loss": ("hinge", "vanilla"),
    "model.lossconfig.adaptive_weight": ("radiodiff", "per_pixel"),
    "model.ddconfig.attn_type": ("vanilla", "none"),
    "data.split_scheme": ("radiodiff", "disjoint"),
    "data.regime": ("street", "above_roof", "mixed", "grid"),
    "trainer.min_lr_mode": ("absolute", "radiodiff"),
    "trainer.ema_schedule": ("radiodiff", "tf_warmup"),
    "trainer.ema_scope": ("all", "autoencoder"),
}
_POSITIVE = {
    "model.embed_dim", "model.ddconfig.z_channels", "model.ddconfig.ch", "model.ddconfig.in_channels",
    "model.ddconfig.out_ch", "data.batch_size", "data.size", "data.num_maps", "data.tx_per_map",
    "data.eval_num_maps", "trainer.gradient_accumulate_every", "trainer.micro_batches",
    "trainer.lr", "trainer.train_num_steps", "trainer.save_and_sample_every", "trainer.log_freq",
    "trainer.ema_update_every", "trainer.max_nonfinite_in_a_row", "trainer.num_samples",
    "model.ddconfig.num_res_blocks", "trainer.ema_power", "trainer.ema_inv_gamma",
    "model.lossconfig.d_weight_max",
}
# RadioDiff keys with no effect here, and why (named in one notice line, never dropped silently).
_IGNORED = {
    "trainer.results_folder": "the run dir is --run-dir",
    "trainer.resume_milestone": "resume is from the run dir's latest checkpoint",
    "data.augment_horizontal_flip": "no flips",
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
        if float in types and isinstance(value, int) and not isinstance(value, bool) \
                and abs(value) < 2 ** 1023:
            value = float(value)                  # 1 means 1.0 for a float key
        if isinstance(value, str) and float in types:
            try:                                  # PyYAML reads 5e-6 (no dot) as a string
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{source}: config key '{name}' must be a finite number, "
                            f"got {brief(value)}")
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise UserError(f"{source}: config key '{name}' must be {_type_name(types)}, "
                            f"got {brief(value)}")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise UserError(f"{source}: config key '{name}' must be one of "
                            f"{', '.join(_CHOICES[name])}, got {brief(value)}")
        if name in _POSITIVE and not value > 0:
            raise UserError(f"{source}: config key '{name}' must be positive, got {brief(value)}")
        out[key] = value
    return out


def _map_radiodiff(user: dict) -> tuple[dict, list[str], list[str]]:
    """RadioDiff's spellings -> ours: (user dict, notes on what was mapped, keys ignored)."""
    user = copy.deepcopy(user)
    notes, ignored = [], []
    for dotted, why in _IGNORED.items():
        section, key = dotted.split(".")
        if isinstance(user.get(section), dict) and key in user[section]:
            user[section].pop(key)
            ignored.append(f"{dotted} ({why})")
    data = user.get("data")
    if isinstance(data, dict):
        if data.get("name") == "radio":
            data["name"] = "radiomapseer"
            notes.append("data.name radio -> radiomapseer (RadioMapSeer maps under data.root)")
        if data.get("name") == "edge":
            data["name"] = "folder"
            notes.append("data.name edge -> folder (maps from data.root, RadioDiff's img_folder)")
        if "img_folder" in data:
            folder = data.pop("img_folder")
            if data.get("root") is None:
                data["root"] = folder
            notes.append(f"data.img_folder -> data.root ({data['root']})")
    return user, notes, ignored


def describe_accumulation(tr: TrainerConfig) -> str:
    """What ``gradient_accumulate_every`` and ``micro_batches`` mean for this run, in one line."""
    gae = tr.gradient_accumulate_every
    passes = ("the discriminator is never stepped (as in RadioDiff with 1)" if gae == 1 else
              f"{gae - 1} discriminator update{'s' if gae > 2 else ''} per batch from disc_start "
              "on (RadioDiff's meaning)")
    batch = (f"{tr.micro_batches} micro-batches per update" if tr.micro_batches > 1
             else "effective batch = data.batch_size")
    return (f"trainer.gradient_accumulate_every {gae}: one autoencoder update and {passes}, "
            f"each loss / {gae}; {batch}")


def _check_consistency(cfg: TrainConfig, source: str) -> None:
    dd, tr, data = cfg.model.ddconfig, cfg.trainer, cfg.data
    if not all(isinstance(m, int) and m > 0 for m in dd.ch_mult) or not dd.ch_mult:
        raise UserError(f"{source}: model.ddconfig.ch_mult must be a list of positive integers")
    res = dd.resolution
    if isinstance(res, list) and (len(res) != 2 or not all(isinstance(r, int) for r in res)):
        raise UserError(f"{source}: model.ddconfig.resolution must be an integer or [H, W]")
    if not 0.0 <= tr.min_lr <= tr.lr:
        raise UserError(f"{source}: trainer.min_lr must be between 0 and trainer.lr "
                        f"({tr.min_lr} vs {tr.lr})")
    if not 0.0 <= tr.ema_decay < 1.0:
        raise UserError(f"{source}: trainer.ema_decay must be in [0, 1), got {tr.ema_decay}")
    if data.name in ("radiomapseer", "folder") and not data.root:
        raise UserError(f"{source}: data.root is required for data.name '{data.name}' "
                        "(add --set data.root=DIR)")
    if data.num_workers < 0:
        raise UserError(f"{source}: data.num_workers must be >= 0")
    if tr.ema_update_after_step < 0:
        raise UserError(f"{source}: trainer.ema_update_after_step must be >= 0")
    down = 2 ** (len(dd.ch_mult) - 1)
    if data.size % down:
        raise UserError(f"{source}: data.size {data.size} must be divisible by {down} "
                        f"(2 ** (len(ch_mult) - 1))")


def resolve_config(user: dict | TrainConfig | None, source: str = "config",
                   overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Defaults filled, RadioDiff's keys mapped, ``overrides`` applied, keys and types checked.

    Raises UserError naming the offending key.
    """
    if isinstance(user, TrainConfig):
        notes = [n for n in user.notes if not n.startswith("trainer.gradient_accumulate_every")]
        user = user.as_dict()
    else:
        notes = []
    user = apply_overrides(user or {}, overrides)
    mapped, more, ignored = _map_radiodiff(user)
    cfg = TrainConfig.from_dict(_check(mapped, DEFAULTS, "", source))
    _check_consistency(cfg, source)
    notes += more
    if ignored:
        notes.append("RadioDiff keys with no effect here: " + "; ".join(ignored))
    cfg._notes = list(dict.fromkeys(notes)) + [describe_accumulation(cfg.trainer)]
    return cfg


def apply_overrides(user: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """``["trainer.lr=1e-4", "data.root=/maps"]`` over a user dict; values read as YAML."""
    if not overrides:
        return user
    if not isinstance(user, dict):
        raise UserError(f"config must be a mapping, got {type(user).__name__}")
    user = copy.deepcopy(user)
    for item in overrides:
        key, sep, text = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise UserError(f"--set {item!r}: expected KEY=VALUE with a dotted key, "
                            "e.g. --set trainer.lr=1e-4")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as exc:
            raise UserError(f"--set {item!r}: value is not valid YAML: "
                            f"{str(exc).splitlines()[0]}") from None
        node = user
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                section = ".".join(parts[:i + 1])
                raise UserError(f"--set {item!r}: '{section}' is not a section")
            node = child
        node[parts[-1]] = value
    return user


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


def load_config(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()
                ) -> TrainConfig:
    """Read a YAML config (safe and bounded: no alias bombs or deep nesting; RadioDiff's
    ``!!float`` tags are standard YAML)."""
    from radiovae.safeload import load_yaml

    path = find_config(path)
    user = load_yaml(path, "config")
    return resolve_config(user, source=str(path), overrides=overrides)


def dump_config(cfg: TrainConfig | dict) -> str:
    """YAML of the resolved config; the notes on what was mapped come first, as comments."""
    notes = cfg.notes if isinstance(cfg, TrainConfig) else []
    body = cfg.as_dict() if isinstance(cfg, TrainConfig) else cfg
    head = "".join(f"# {note}\n" for note in notes)
    return head + yaml.safe_dump(body, sort_keys=False, default_flow_style=None)

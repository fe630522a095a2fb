"""One home per training default: the config dataclasses (model/config.py, train/config.py).

Two scans that can fail: the code of train/ and model/ must not write a config key's default again
(a keyword default, or a keyword argument, of the same name and value), and the shipped YAMLs
state only what differs from the defaults. configs/radiodiff_first_stage.yaml is the exception
on purpose: it mirrors RadioDiff's configs/first_radio.yaml, key for key, and is pinned to RadioDiff's
numbers here. The demo's effective config is pinned to its values, written out.
"""

from __future__ import annotations

import ast
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

import yaml

from radiovae.train.config import CONFIG_DIR, DEFAULTS, TrainConfig, load_config
from radiovae.train.demo import demo_config

SRC = Path(__file__).resolve().parents[1] / "src" / "radiovae"
HOMES = {SRC / "model" / "config.py", SRC / "train" / "config.py"}
# Parameters that carry a config key under another name (taming's discriminator).
ALIASES = {"ndf": "disc_ndf", "n_layers": "disc_num_layers", "input_nc": "disc_in_channels"}


def config_defaults() -> dict[str, list[Any]]:
    """Every config field name -> its default value(s) (a name can occur in two sections)."""
    out: dict[str, list[Any]] = {}

    def walk(obj: Any) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            if f.name.startswith("_"):
                continue
            if is_dataclass(value):
                walk(value)
            else:
                out.setdefault(f.name, []).append(value)

    walk(TrainConfig())
    return out


def _literal(node: ast.expr) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):   # 2 / 3
            ok_l, left = _literal(node.left)
            ok_r, right = _literal(node.right)
            if ok_l and ok_r and isinstance(left, int | float) and isinstance(right, int | float):
                return True, left / right
        return False, None


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, int | float) and isinstance(b, float)
                                             and not isinstance(a, bool) and float(a) == b)


def repeated_defaults(source: str, where: str, defaults: dict[str, list[Any]]) -> list[str]:
    """``name=value`` pairs in ``source`` (keyword defaults of a def, keyword arguments of a call)
    whose name is a config key's (or an alias of one) and whose value is that key's default."""
    found = []

    def check(name: str | None, node: ast.expr | None, line: int) -> None:
        if name is None or node is None:
            return
        key = ALIASES.get(name, name)
        ok, value = _literal(node)
        if ok and key in defaults and any(_same(value, d) for d in defaults[key]):
            found.append(f"{where}:{line}: {name}={value!r} repeats the default of {key}")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            for arg, default in zip(positional[len(positional) - len(args.defaults):],
                                    args.defaults, strict=True):
                check(arg.arg, default, default.lineno)
            for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
                check(arg.arg, kw_default, arg.lineno)
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                check(kw.arg, kw.value, kw.value.lineno)
    return found


def test_no_module_of_train_or_model_writes_a_default_again():
    defaults = config_defaults()
    found = []
    for path in sorted([*(SRC / "train").glob("*.py"), *(SRC / "model").glob("*.py")]):
        if path not in HOMES:
            found += repeated_defaults(path.read_text(encoding="utf-8"),
                                       str(path.relative_to(SRC)), defaults)
    assert not found, "\n".join(found)


def test_the_scan_finds_a_repeated_default():
    defaults = config_defaults()
    source = ("def ema(model, ema_decay=0.995, *, grad_clip=1.0, lr=1e-3): pass\n"
              "opt = AdamW(params, weight_decay=0.01, betas=(0.9, 0.999))\n"
              "d = NLayerDiscriminator(1, ndf=64)\n"
              "x = f(ema_power=2 / 3, kl_weight=1e-6, num_workers=0)\n")
    found = repeated_defaults(source, "s.py", defaults)
    assert [f.split(": ", 1)[1].split("=")[0] for f in found] == [
        "ema_decay", "grad_clip", "weight_decay", "ndf", "ema_power", "kl_weight", "num_workers"]
    assert "s.py:1:" in found[0] and "s.py:3:" in found[3]


def _leaves(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_leaves(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def stated_defaults(path: Path) -> list[str]:
    """Keys a YAML config states with the value the dataclasses already give them."""
    stated = _leaves(yaml.safe_load(path.read_text(encoding="utf-8")))
    resolved = _leaves(load_config(path).as_dict())
    default = _leaves(DEFAULTS)
    return [k for k in stated if _same(resolved[k], default[k])]


def test_shipped_yamls_state_only_what_differs(tmp_path):
    for name in ("demo", "cpu_small"):
        assert stated_defaults(CONFIG_DIR / f"{name}.yaml") == [], name
    repeats = tmp_path / "r.yaml"   # the scan can fail
    repeats.write_text("trainer:\n  lr: 2.0e-3\n  ema_decay: 0.995\n  weight_decay: 1.0e-2\n"
                       "model:\n  lossconfig:\n    kl_weight: 1.0e-6\n")
    assert stated_defaults(repeats) == ["trainer.ema_decay", "trainer.weight_decay",
                                        "model.lossconfig.kl_weight"]


def test_radiodiff_first_stage_yaml_is_radiodiffs_first_radio_yaml():
    """A mirror of RadioDiff's configs/first_radio.yaml (its numbers, not ours restated)."""
    stated = _leaves(yaml.safe_load((CONFIG_DIR / "radiodiff_first_stage.yaml").read_text()))
    assert stated == {
        "model.embed_dim": 3, "model.lossconfig.disc_start": 50001,
        "model.lossconfig.kl_weight": 1e-6, "model.lossconfig.disc_weight": 0.5,
        "model.lossconfig.disc_in_channels": 1, "model.lossconfig.perceptual_weight": 0.0,
        "model.ddconfig.double_z": True, "model.ddconfig.z_channels": 3,
        "model.ddconfig.resolution": [320, 320], "model.ddconfig.in_channels": 1,
        "model.ddconfig.out_ch": 1, "model.ddconfig.ch": 128, "model.ddconfig.ch_mult": [1, 2, 4],
        "model.ddconfig.num_res_blocks": 2, "model.ddconfig.attn_resolutions": [],
        "model.ddconfig.dropout": 0.0,
        "data.name": "radiomapseer", "data.root": None, "data.simulation": "DPM", "data.size": 256,
        "data.batch_size": 2, "data.num_workers": 2,
        "trainer.gradient_accumulate_every": 2, "trainer.lr": 5e-6, "trainer.min_lr": 5e-7,
        "trainer.train_num_steps": 150000, "trainer.save_and_sample_every": 5000,
        "trainer.log_freq": 100, "trainer.amp": False, "trainer.fp16": False,
    }


def test_demo_effective_config_is_unchanged():
    """The demo's effective config, all of it: its YAML states only what differs from the
    defaults, and a default changed elsewhere must not change the demo unnoticed."""
    cfg = demo_config()
    assert cfg.as_dict() == {
        "model": {
            "embed_dim": 3,
            "lossconfig": {"disc_start": 1334, "kl_weight": 1e-06, "disc_weight": 0.01,
                           "disc_in_channels": 1, "disc_loss": "hinge", "disc_factor": 1.0,
                           "disc_num_layers": 3, "disc_ndf": 32, "perceptual_weight": 0.0,
                           "pixelloss_weight": 1.0, "logvar_init": 0.0, "use_actnorm": False,
                           "disc_conditional": False, "adaptive_weight": "per_pixel",
                           "d_weight_max": 10000.0},
            "ddconfig": {"double_z": True, "z_channels": 3, "resolution": 64, "in_channels": 1,
                         "out_ch": 1, "ch": 16, "ch_mult": [1, 2], "num_res_blocks": 1,
                         "attn_resolutions": [], "dropout": 0.0, "attn_type": "none"},
            "ckpt_path": None, "ckpt_use_ema": True},
        "data": {"name": "synthetic", "batch_size": 4, "num_workers": 0, "size": 64, "root": None,
                 "simulation": "auto", "cars": False, "split_scheme": "radiodiff",
                 "num_maps": 300, "tx_per_map": 8, "eval_num_maps": 16, "regime": "street",
                 "seed": 0},
        "trainer": {"gradient_accumulate_every": 2, "micro_batches": 1, "lr": 0.002,
                    "min_lr": 0.0001, "min_lr_mode": "absolute", "train_num_steps": 4000,
                    "save_and_sample_every": 1000, "log_freq": 10, "amp": False, "fp16": False,
                    "ema_schedule": "radiodiff", "ema_decay": 0.995, "ema_update_every": 1,
                    "ema_update_after_step": 100, "ema_power": 2 / 3, "ema_inv_gamma": 1.0,
                    "ema_scope": "all", "grad_clip": 1.0, "weight_decay": 0.01,
                    "train_logvar": True, "max_nonfinite_in_a_row": 5, "num_samples": 6,
                    "seed": 0, "device": "auto"},
    }
    assert cfg.notes == ["trainer.gradient_accumulate_every 2: one autoencoder update and 1 "
                         "discriminator update per batch from disc_start on (RadioDiff's "
                         "meaning), each loss / 2; effective batch = data.batch_size"]


def test_components_take_their_settings_from_the_config_sections():
    """Built bare they have the dataclasses' values; given a section they have its values."""
    import torch

    from radiovae.model import LossConfig, VAEGANLoss
    from radiovae.train.config import TrainerConfig
    from radiovae.train.ema import EMA
    from radiovae.train.step import VAEGANStep, build_optimizers

    bare, lc = VAEGANLoss(), LossConfig()
    assert (bare.disc_start, bare.kl_weight, bare.disc_weight, bare.disc_factor,
            bare.d_weight_max, bare.logvar.item()) == (lc.disc_start, lc.kl_weight,
                                                       lc.disc_weight, lc.disc_factor,
                                                       lc.d_weight_max, lc.logvar_init)
    loss = VAEGANLoss(LossConfig(disc_start=7, kl_weight=0.25, disc_ndf=4, logvar_init=0.5),
                      disc_weight=0.125)
    assert (loss.disc_start, loss.kl_weight, loss.disc_weight, loss.logvar.item()) == \
        (7, 0.25, 0.125, 0.5)
    assert loss.discriminator.main[0].out_channels == 4

    net, tr = torch.nn.Linear(2, 2), TrainerConfig()
    ema = EMA(net)
    assert (ema.decay, ema.update_every, ema.update_after_step, ema.power, ema.inv_gamma,
            ema.schedule) == (tr.ema_decay, tr.ema_update_every, tr.ema_update_after_step,
                              tr.ema_power, tr.ema_inv_gamma, tr.ema_schedule)
    mine = TrainerConfig(ema_decay=0.5, ema_update_every=3, ema_update_after_step=7, lr=0.125,
                         weight_decay=0.25, grad_clip=None, gradient_accumulate_every=3,
                         train_logvar=False)
    ema = EMA(net, mine, ema_power=0.75)
    assert (ema.decay, ema.update_every, ema.update_after_step, ema.power) == (0.5, 3, 7, 0.75)

    small = VAEGANLoss(disc_ndf=4)
    opt_ae, opt_disc = build_optimizers(net, small, mine)
    assert [g["lr"] for g in opt_ae.param_groups] == [0.125]   # logvar left out
    assert opt_disc.param_groups[0]["weight_decay"] == 0.25
    assert not small.logvar.requires_grad
    step = VAEGANStep(net, small, opt_ae, opt_disc, mine)
    assert step.grad_clip is None and step.disc_updates == 2
    default = VAEGANStep(net, small, *build_optimizers(net, VAEGANLoss(disc_ndf=4)))
    assert default.grad_clip == tr.grad_clip and default.disc_updates == \
        tr.gradient_accumulate_every - 1

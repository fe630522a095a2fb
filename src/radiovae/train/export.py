"""``radiovae export CKPT --format radiodiff OUT``: a radiovae checkpoint as RadioDiff's model-N.pt.

RadioDiff's train_vae.py ``Trainer.save`` (lines 161-176) writes ``step``, ``model`` (the state dict
of its ``AutoencoderKL``), ``opt_ae``, ``lr_scheduler_ae``, ``opt_disc``, ``lr_scheduler_disc``,
``ema`` and ``scaler``; ``Trainer.load`` (lines 178-196) reads them back strictly. Its
``AutoencoderKL`` (encoder_decoder.py lines 894-923) holds, besides encoder / decoder / quant convs,
three loss modules (``loss``, ``loss_pinn``, ``loss_pinn_dpm2irt4``), each with ``logvar``, a
``discriminator`` and an LPIPS network ``perceptual_loss`` (VGG16 + linear heads, fixed pretrained
weights); its EMA (ema.py) is a module holding ``online_model.*`` and ``ema_model.*`` (both the whole
AutoencoderKL) and the buffers ``initted`` and ``step`` (shape [1]).

What the file gets:

* encoder / decoder / quant convs, ``loss.logvar``, ``loss.discriminator.*``: ours (online in
  ``model`` and ``ema.online_model``, EMA in ``ema.ema_model``; a run with ``ema_scope:
  autoencoder`` has no EMA of the loss, so the online loss weights are used there);
* ``*.perceptual_loss.*`` and the unused ``loss_pinn*`` modules: from ``perceptual_from`` (any
  RadioDiff model-N.pt: those weights are pretrained and never trained). Without it, the
  ``loss_pinn*`` modules get copies of our logvar / discriminator and the LPIPS weights are missing:
  the file then loads in RadioDiff's stage 2 (``init_from_ckpt``, non-strict, EMA weights) but not
  in its strict ``Trainer.load``; the returned note says so;
* ``opt_ae`` / ``lr_scheduler_ae`` over the autoencoder's parameters only (RadioDiff's
  optimizer has no logvar), ``opt_disc`` / ``lr_scheduler_disc`` as they are.

The file is named ``model-<step // save_and_sample_every>.pt``, RadioDiff's milestone, so
``trainer.resume_milestone`` finds it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from radiovae.errors import UserError
from radiovae.model.checkpoint import AE_PREFIXES, load_checkpoint, save_checkpoint
from radiovae.model.config import LossConfig
from radiovae.train.config import TrainerConfig

LOSS_MODULES = ("loss", "loss_pinn", "loss_pinn_dpm2irt4")
_PLAIN_ADAMW = {"foreach": None, "fused": None, "capturable": False, "differentiable": False}


def _strip(state: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _first_group(opt: dict[str, Any]) -> dict[str, Any]:
    """An AdamW state dict reduced to its first parameter group (the autoencoder's)."""
    group = dict(opt["param_groups"][0])
    keep = set(group["params"])
    group.update({k: v for k, v in _PLAIN_ADAMW.items() if k in group})
    return {"state": {i: s for i, s in opt["state"].items() if i in keep},
            "param_groups": [group]}


def _plain(opt: dict[str, Any]) -> dict[str, Any]:
    groups = [{**g, **{k: v for k, v in _PLAIN_ADAMW.items() if k in g}}
              for g in opt["param_groups"]]
    return {"state": opt["state"], "param_groups": groups}


def _first_scheduler(sched: dict[str, Any]) -> dict[str, Any]:
    out = dict(sched)
    for key in ("base_lrs", "_last_lr", "lr_lambdas"):
        if isinstance(out.get(key), list):
            out[key] = out[key][:1]
    return out


def _radiodiff_model(ae: dict, loss: dict, extra: dict) -> dict[str, torch.Tensor]:
    """RadioDiff's AutoencoderKL state dict: ours + the LPIPS / loss_pinn* tensors in ``extra``."""
    out = {k: v for k, v in ae.items() if k.startswith(("encoder.", "decoder."))}
    for module in LOSS_MODULES:
        given = _strip(extra, f"{module}.")
        if module == "loss" or not given:
            out.update({f"{module}.{k}": v for k, v in loss.items()})
        out.update({f"{module}.{k}": v for k, v in given.items()
                    if module != "loss" or k.startswith("perceptual_loss.")})
    out.update({k: v for k, v in ae.items() if k.startswith(("quant_conv.", "post_quant_conv."))})
    return out


def export_radiodiff(checkpoint: str | os.PathLike, out: str | os.PathLike,
                     perceptual_from: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Write RadioDiff's model-N.pt; returns (path, a note for the user or "")."""
    from radiovae.train.resume import checkpoints

    src = Path(checkpoint)
    if src.is_dir():
        found = checkpoints(src)
        if not found:
            raise UserError(f"{src} holds no checkpoints/model-<step>.pt")
        src = found[0]
    ckpt = load_checkpoint(src)
    missing = [k for k in ("model", "ema", "opt_ae", "opt_disc", "lr_scheduler_ae",
                           "lr_scheduler_disc", "step") if k not in ckpt]
    if missing:
        raise UserError(f"{src} is not a radiovae training checkpoint (no {', '.join(missing)})")
    model = ckpt["model"]
    ae = {k: v for k, v in model.items() if k.startswith(AE_PREFIXES)}
    loss = _strip(model, "loss.")
    ema_all = _strip(ckpt["ema"], "ema_model.")
    ema_ae = {k: v for k, v in ema_all.items() if k.startswith(AE_PREFIXES)}
    ema_loss = _strip(ema_all, "loss.") or loss

    extra: dict[str, torch.Tensor] = {}
    if perceptual_from is not None:
        theirs = load_checkpoint(perceptual_from)
        theirs = theirs.get("model", theirs)
        extra = {k: v for k, v in theirs.items() if isinstance(v, torch.Tensor) and (
            k.startswith("loss.perceptual_loss.") or k.startswith(("loss_pinn.",
                                                                   "loss_pinn_dpm2irt4.")))}
        if not any(k.startswith("loss.perceptual_loss.") for k in extra):
            raise UserError(f"{perceptual_from} holds no loss.perceptual_loss.* tensors "
                            "(is it a RadioDiff first-stage model-N.pt?)")
    online = _radiodiff_model(ae, loss, extra)
    averaged = _radiodiff_model(ema_ae, ema_loss, extra)

    step = int(ckpt["step"])
    saved = ckpt.get("config") if isinstance(ckpt.get("config"), dict) else {}
    trainer, model_cfg = saved.get("trainer") or {}, saved.get("model") or {}
    after = trainer.get("ema_update_after_step", TrainerConfig().ema_update_after_step)
    calls = ckpt["ema"].get("step", torch.tensor([step]))
    ema = {"initted": torch.tensor([1.0 if step > after else 0.0]),
           "step": torch.as_tensor(calls, dtype=torch.long).reshape(1),
           **{f"online_model.{k}": v for k, v in online.items()},
           **{f"ema_model.{k}": v for k, v in averaged.items()}}
    if "initted" in ckpt["ema"]:
        ema["initted"] = torch.as_tensor(ckpt["ema"]["initted"], dtype=torch.float).reshape(1)
    state = {
        "step": step, "model": online,
        "opt_ae": _first_group(ckpt["opt_ae"]),
        "lr_scheduler_ae": _first_scheduler(ckpt["lr_scheduler_ae"]),
        "opt_disc": _plain(ckpt["opt_disc"]), "lr_scheduler_disc": ckpt["lr_scheduler_disc"],
        "ema": ema, "scaler": ckpt.get("scaler"),
    }
    every = int(trainer.get("save_and_sample_every") or 1)
    milestone = step // every
    out = Path(out)
    path = out if out.suffix == ".pt" else out / f"model-{milestone}.pt"
    save_checkpoint(path, state)

    notes = []
    if perceptual_from is None:
        notes.append("no LPIPS weights given (--perceptual-from a RadioDiff model-N.pt): the file "
                     "loads in RadioDiff's stage 2 (init_from_ckpt) but not in its strict "
                     "Trainer.load")
    lc, radiodiff = model_cfg.get("lossconfig") or {}, LossConfig()   # its defaults: RadioDiff's
    if (lc.get("disc_ndf", radiodiff.disc_ndf), lc.get("disc_num_layers", radiodiff.disc_num_layers)
            ) != (radiodiff.disc_ndf, radiodiff.disc_num_layers):
        notes.append(f"RadioDiff builds its discriminator with ndf {radiodiff.disc_ndf} "
                     f"(disc_num_layers from its config); this one has ndf {lc.get('disc_ndf')}, "
                     "so RadioDiff's own AutoencoderKL cannot hold it")
    if path.name != f"model-{milestone}.pt" or step % every:
        notes.append(f"RadioDiff resumes at step {step} from the file it finds as "
                     f"results_folder/model-<resume_milestone>.pt")
    else:
        notes.append(f"resume in RadioDiff with trainer.resume_milestone: {milestone} "
                     f"(step {step}) and this file in its results_folder")
    return path, "; ".join(notes)

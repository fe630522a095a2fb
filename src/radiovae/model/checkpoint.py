"""Checkpoint files: atomic saves, safe loads, and the autoencoder out of ours or RadioDiff's.

Loading never unpickles code: ``torch.load(weights_only=True)`` accepts tensors, numbers, strings
and containers only, so a checkpoint that would run something when loaded is refused.

RadioDiff's ``model-N.pt`` (train_vae.py ``save()``) is a dict::

    step, model (AutoencoderKL state dict, including its loss.* / loss_pinn.* modules),
    opt_ae, lr_scheduler_ae, opt_disc, lr_scheduler_disc, scaler,
    ema (its EMA wrapper: ema_model.<name>, online_model.<name>, step, initted)

radiovae's checkpoints use the same ``model`` / ``ema`` layout and add ``config`` (the resolved
training config, or at least ``{"embed_dim", "ddconfig"}``) so the architecture need not be guessed.

Every checkpoint radiovae writes carries ``payload_sha256``: the SHA-256 of everything else in it
(every tensor's dtype, shape and bytes, every number and string, in order). torch's zip reader
does not check the archive's CRCs, so flipped bytes inside a tensor load without complaint and a
resume continues from garbage; the digest is written in the same file (so it is atomic with it)
and verified on every load. A mismatch is :class:`DamagedCheckpoint`. A checkpoint without one
(RadioDiff's, an older radiovae's) still loads, with one note that it could not be verified.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import sys
import warnings
from pathlib import Path
from typing import Any

import torch

from radiovae.errors import UserError
from radiovae.io import atomic_path
from radiovae.model.autoencoder import AutoencoderKL
from radiovae.model.config import DDConfig

AE_PREFIXES = ("encoder.", "decoder.", "quant_conv.", "post_quant_conv.")
INFERRED_RESOLUTION = 256  # convolutional weights do not fix the image size; only attention placement


DIGEST_KEY = "payload_sha256"


class DamagedCheckpoint(UserError):
    """A checkpoint whose bytes are not what was written (its payload digest does not match)."""


def payload_digest(state: Any) -> str:
    """SHA-256 (hex) of a checkpoint's contents: structure, keys, numbers, strings and every
    tensor's dtype, shape and bytes, in order. The same state before ``torch.save`` and after
    ``torch.load`` gives the same digest (dict order and tuple/list are kept by pickle)."""
    h = hashlib.sha256()
    stack: list[Any] = [state]
    while stack:
        v = stack.pop()
        if isinstance(v, torch.Tensor):
            t = v.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            if t.numel():
                h.update(t.reshape(-1).view(torch.uint8).numpy().data)
        elif isinstance(v, dict):
            h.update(b"d%d" % len(v))
            for k, x in reversed(list(v.items())):   # popped in order
                stack += [x, k]
        elif isinstance(v, (list, tuple)):
            h.update((b"l%d" if isinstance(v, list) else b"t%d") % len(v))
            stack += reversed(v)
        elif isinstance(v, str):
            data = v.encode("utf-8", "surrogatepass")
            h.update(b"s" + struct.pack("<Q", len(data)) + data)
        elif isinstance(v, bytes):
            h.update(b"b" + struct.pack("<Q", len(v)) + v)
        else:   # int, float, bool, None, torch.Size / dtype: their exact repr
            text = f"{type(v).__name__}:{v!r}".encode()
            h.update(b"r" + struct.pack("<Q", len(text)) + text)
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """``torch.save`` ``state`` (with its :func:`payload_digest`) to ``path`` atomically: a crash
    leaves the previous file intact.

    Written through a Python file object, so that a full disk is ``OSError(ENOSPC)``: given a path,
    torch's own writer reports it as ``RuntimeError: ... unexpected pos``, and through a file the
    OSError may still surface as the context of that RuntimeError (raised here as the OSError).
    """
    state = {k: v for k, v in state.items() if k != DIGEST_KEY}
    state[DIGEST_KEY] = payload_digest(state)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(state, f)
    except RuntimeError as e:   # torch's zip writer failing after the OSError that caused it
        cause = _os_error_in(e)
        if cause is None:
            raise
        raise cause from None
    return Path(path)


def _os_error_in(exc: BaseException) -> OSError | None:
    """The OSError among an exception's causes and contexts, if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


_UNVERIFIED_SAID: set[str] = set()


def load_checkpoint(path: str | os.PathLike, quiet: bool = False) -> dict[str, Any]:
    """Load a checkpoint dict on the CPU without running any pickled code, its payload digest
    verified (UserError if bad, :class:`DamagedCheckpoint` if its bytes changed). A checkpoint
    without a digest loads with one note on stderr (once per file; none when ``quiet``)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist" if not path.exists()
                        else f"checkpoint {path} is not a file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises UnpicklingError / RuntimeError / EOFError / ... here
        weights_only = "weights_only" in str(e) or "Weights only load failed" in str(e)
        if weights_only and "global" in str(e).lower():   # a pickled class / function: refused
            raise UserError(
                f"checkpoint {path} holds pickled objects other than tensors and plain data; "
                "radiovae refuses to unpickle them (torch.load weights_only=True), since loading "
                "could run arbitrary code") from None
        text = str(e).split("WeightsUnpickler error:")[-1] if weights_only else str(e)
        first = text.strip().splitlines()[0][:200] if text.strip() else type(e).__name__
        raise UserError(f"{path} is not a readable PyTorch checkpoint ({first})") from None
    if not isinstance(state, dict):
        raise UserError(f"checkpoint {path} holds a {type(state).__name__}, not a dict of weights")
    expected = state.pop(DIGEST_KEY, None)
    if expected is None:
        if not quiet and str(path) not in _UNVERIFIED_SAID:
            _UNVERIFIED_SAID.add(str(path))
            sys.stderr.write(f"radiovae: note: {path} carries no checksum (RadioDiff's, or "
                             "by an older radiovae): its bytes could not be verified\n")
    elif payload_digest(state) != expected:
        raise DamagedCheckpoint(f"checkpoint {path} is damaged: its contents do not match the "
                                "checksum written with it (SHA-256 of its payload)")
    return state


def _strip(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}


def _autoencoder_state(ckpt: dict[str, Any], ema: bool, path: Path) -> dict[str, torch.Tensor]:
    """The autoencoder's tensors (encoder/decoder/quant convs) out of any known layout."""
    source = None
    if ema and isinstance(ckpt.get("ema"), dict):
        source = _strip(ckpt["ema"], "ema_model.")
    if not source:
        if ema and "ema" in ckpt:
            warnings.warn(f"{path}: no EMA weights (ema_model.*) found; using the online weights",
                          stacklevel=3)
        for key in ("model", "state_dict"):  # ours / RadioDiff's, latent-diffusion's Lightning
            if isinstance(ckpt.get(key), dict):
                source = ckpt[key]
                break
        else:
            source = ckpt  # a bare state dict
    source = {re.sub(r"^(module\.|_orig_mod\.)+", "", k): v for k, v in source.items()}
    state = {k: v for k, v in source.items()
             if k.startswith(AE_PREFIXES) and isinstance(v, torch.Tensor)}
    if not state:
        raise UserError(f"{path} holds no autoencoder weights (no encoder.* / decoder.* tensors); "
                        "is it a radiovae or RadioDiff first-stage checkpoint?")
    return state


def loss_state(ckpt: dict[str, Any], ema: bool = True) -> tuple[dict[str, torch.Tensor], str]:
    """The loss module's tensors (``logvar``, ``discriminator.*``; ``loss.`` stripped) and which
    weights they are ("EMA" or "online"), as RadioDiff's init_from_ckpt would take them."""
    if ema and isinstance(ckpt.get("ema"), dict):
        state = _strip(_strip(ckpt["ema"], "ema_model."), "loss.")
        if any(k.startswith(AE_PREFIXES) for k in _strip(ckpt["ema"], "ema_model.")):
            return {k: v for k, v in state.items() if isinstance(v, torch.Tensor)}, "EMA"
    model = ckpt.get("model") if isinstance(ckpt.get("model"), dict) else {}
    return {k: v for k, v in _strip(model, "loss.").items() if isinstance(v, torch.Tensor)}, \
        "online"


def _config_from(ckpt: dict[str, Any]) -> dict | None:
    cfg = ckpt.get("config")
    if isinstance(cfg, dict) and isinstance(cfg.get("model"), dict):
        cfg = cfg["model"]
    if isinstance(cfg, dict) and "ddconfig" in cfg and "embed_dim" in cfg:
        return {"embed_dim": cfg["embed_dim"], "ddconfig": cfg["ddconfig"]}
    return None


def infer_config(state: dict[str, torch.Tensor]) -> dict:
    """``{"embed_dim", "ddconfig"}`` read off the weight shapes of an AutoencoderKL state dict."""
    try:
        conv_in = state["encoder.conv_in.weight"]
        ch, in_channels = conv_in.shape[0], conv_in.shape[1]
        levels = sorted({int(m.group(1)) for k in state
                         if (m := re.match(r"encoder\.down\.(\d+)\.", k))})
        ch_mult = [state[f"encoder.down.{i}.block.0.conv1.weight"].shape[0] // ch for i in levels]
        num_res_blocks = len({k.split(".")[4] for k in state
                              if k.startswith("encoder.down.0.block.")})
        z_channels = state["decoder.conv_in.weight"].shape[1]
        double_z = state["encoder.conv_out.weight"].shape[0] == 2 * z_channels
        attn_resolutions: list = [INFERRED_RESOLUTION // 2 ** i for i in levels
                                  if any(k.startswith(f"encoder.down.{i}.attn.") for k in state)]
        resolution: int | list[int] = INFERRED_RESOLUTION
        if attn_resolutions == [INFERRED_RESOLUTION] and not any(
                k.startswith("decoder.up.") and ".attn." in k for k in state):
            # RadioDiff's placement with a list resolution: attention in encoder.down.0 only
            resolution = [INFERRED_RESOLUTION, INFERRED_RESOLUTION]
            attn_resolutions = [resolution]
        ddconfig = {
            **DDConfig().as_dict(), "double_z": double_z, "z_channels": int(z_channels),
            "resolution": resolution, "in_channels": int(in_channels),
            "out_ch": int(state["decoder.conv_out.weight"].shape[0]), "ch": int(ch),
            "ch_mult": ch_mult, "num_res_blocks": num_res_blocks,
            "attn_resolutions": attn_resolutions, "dropout": 0.0,
            "attn_type": "vanilla" if "encoder.mid.attn_1.q.weight" in state else "none",
        }
        return {"embed_dim": int(state["post_quant_conv.weight"].shape[1]), "ddconfig": ddconfig}
    except (KeyError, IndexError, ZeroDivisionError) as e:
        raise UserError(f"cannot infer the autoencoder's architecture from its weights "
                        f"(missing or odd tensor {e}); pass the training config") from None


def load_autoencoder(path: str | os.PathLike, ema: bool = True, config: dict | None = None
                     ) -> AutoencoderKL:
    """An :class:`AutoencoderKL` (eval mode, CPU) from a radiovae or RadioDiff checkpoint.

    ``ema``: use the EMA weights when the checkpoint has them (the ones to evaluate with).
    ``config``: ``{"embed_dim", "ddconfig"}`` or a full training config (``model.*``); default:
    the checkpoint's own ``config`` entry, else the architecture read off the weight shapes.
    """
    path = Path(path)
    ckpt = load_checkpoint(path)
    state = _autoencoder_state(ckpt, ema, path)
    arch = (_config_from({"config": config}) if config is not None else None) or _config_from(ckpt)
    if config is not None and arch is None:
        raise UserError("config must hold embed_dim and ddconfig (or model.embed_dim, model.ddconfig)")
    arch = arch or infer_config(state)
    try:
        model = AutoencoderKL(arch["ddconfig"], arch["embed_dim"])
    except (TypeError, ValueError) as e:
        raise UserError(f"bad autoencoder config for {path}: {e}") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        detail = " ".join(str(e).split())[:400]
        raise UserError(f"the weights in {path} do not match the autoencoder config: {detail}"
                        ) from None
    return model.eval()


def init_from_checkpoint(path: str, autoencoder: AutoencoderKL, loss: torch.nn.Module,
                         use_ema: bool) -> str:
    """``model.ckpt_path``: RadioDiff's ``init_from_ckpt`` (encoder_decoder.py lines 925-952).

    With ``use_ema`` and an ``ema`` entry: the EMA weights, the loss's (logvar, discriminator)
    included; else the online ones. The autoencoder must match exactly; loss tensors are taken
    when present. Returns one line saying what was loaded.
    """
    ckpt = load_checkpoint(path)
    ae = load_autoencoder(path, ema=use_ema, config=autoencoder.config)
    autoencoder.load_state_dict(ae.state_dict())
    state, source = loss_state(ckpt, use_ema)
    own = loss.state_dict()
    taken = {k: v for k, v in state.items() if k in own and v.shape == own[k].shape}
    loss.load_state_dict({**own, **taken})
    return (f"model.ckpt_path {path}: autoencoder from its {source} weights"
            f"{', loss (logvar, discriminator) too' if taken else ', no loss weights in it'}")

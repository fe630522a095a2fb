"""radiovae: radio maps -> RadioDiff first-stage VAE-GAN training -> run records -> analysis -> report.

Imports are lazy so that ``radiovae report`` does not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "load_run": ("radiovae.runlog", "load_run"),
    "Run": ("radiovae.runlog", "Run"),
    "analyze": ("radiovae.analysis", "analyze"),
    "load_autoencoder": ("radiovae.model", "load_autoencoder"),
    "AutoencoderKL": ("radiovae.model", "AutoencoderKL"),
}

if TYPE_CHECKING:  # pragma: no cover
    from radiovae.analysis import analyze  # noqa: F401
    from radiovae.model import AutoencoderKL, load_autoencoder  # noqa: F401
    from radiovae.runlog import Run, load_run  # noqa: F401

__all__ = ["__version__", "load_run", "Run", "analyze", "load_autoencoder", "AutoencoderKL"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'radiovae' has no attribute {name!r}")

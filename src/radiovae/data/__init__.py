"""Radio maps: the built-in generator, RadioMapSeer, any folder of maps (imported lazily: torch
is loaded only when a data set is used)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

_LAZY = {
    "SyntheticMaps": "radiovae.data.synthetic",
    "RadioMapSeer": "radiovae.data.radiomapseer",
    "FolderMaps": "radiovae.data.folder",
    "synthesize": "radiovae.data.generator",
}

if TYPE_CHECKING:  # pragma: no cover
    from radiovae.data.folder import FolderMaps
    from radiovae.data.generator import synthesize
    from radiovae.data.radiomapseer import RadioMapSeer
    from radiovae.data.synthetic import SyntheticMaps

__all__ = ["FolderMaps", "RadioMapSeer", "SyntheticMaps", "synthesize"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'radiovae.data' has no attribute {name!r}")

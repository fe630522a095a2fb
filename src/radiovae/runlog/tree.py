"""What lies inside a folder given as a run: files found without leaving it.

A run folder is walked once, here, and every reader asks this listing instead of globbing: a
symbolic link is followed only when its target lies inside the folder given (a link to a sibling
run, to ``..`` or to ``/`` is listed as left out, never walked), a folder reached twice (a link
loop) is walked once, hidden entries (``.git``, ``.ipynb_checkpoints``) are skipped, and a tree of
more than :data:`MAX_ENTRIES` entries is refused rather than walked for minutes.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from radiovae.errors import UserError

MAX_ENTRIES = 200_000


@dataclass
class Tree:
    """The regular files under ``root`` (sorted, as paths under ``root``) and the symbolic links
    that lead out of it (not followed)."""

    root: Path
    files: list[Path] = field(default_factory=list)
    outside: list[Path] = field(default_factory=list)

    def named(self, name: str, min_depth: int = 0) -> list[Path]:
        """Files called ``name`` at least ``min_depth`` folders below the root."""
        return [f for f in self.files if f.name == name
                and len(f.relative_to(self.root).parts) > min_depth]

    def left_out_note(self) -> str | None:
        """The note that says which links were not followed (None when none)."""
        if not self.outside:
            return None
        names = ", ".join(str(p.relative_to(self.root)) for p in self.outside[:3])
        more = f" and {len(self.outside) - 3} more" if len(self.outside) > 3 else ""
        return (f"{len(self.outside)} symbolic link(s) leading out of {self.root} not followed "
                f"({names}{more}): a run folder is read from inside only")


def scan(root: Path) -> Tree:
    """Walk ``root`` without leaving it (see the module's docstring)."""
    root = Path(root)
    try:
        base = root.resolve(strict=True)
    except (OSError, RuntimeError) as e:
        raise UserError(f"{root}: cannot read ({getattr(e, 'strerror', None) or e})") from None
    tree = Tree(root)
    seen, files = {base}, set()
    stack: list[tuple[Path, Path]] = [(root, base)]
    links: deque[Path] = deque()   # followed after the real entries: a file keeps its real name
    entries = 0
    while stack or links:
        if not stack:
            _follow(links.popleft(), base, tree, seen, files, stack)
            continue
        folder, real = stack.pop()
        try:
            with os.scandir(folder) as it:
                items = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        entries += len(items)
        if entries > MAX_ENTRIES:
            raise UserError(f"{root}: holds more than {MAX_ENTRIES:,} files and folders; give "
                            "the folder of one run")
        for e in items:
            if e.name.startswith("."):
                continue
            if e.is_symlink():
                links.append(folder / e.name)
                continue
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            _add(folder / e.name, real / e.name, st, tree, seen, files, stack)
    tree.files.sort()
    tree.outside.sort()
    return tree


def _follow(link: Path, base: Path, tree: Tree, seen: set[Path], files: set[Path],
            stack: list[tuple[Path, Path]]) -> None:
    """A symbolic link: taken when it leads to a place inside ``base``, else listed as left out."""
    try:
        target = Path(os.path.realpath(link, strict=True))
        st = os.stat(link)
    except (OSError, RuntimeError):
        return                                 # broken or looping link: nothing to read
    if target != base and base not in target.parents:
        tree.outside.append(link)
        return
    _add(link, target, st, tree, seen, files, stack)


def _add(path: Path, real: Path, st: os.stat_result, tree: Tree, seen: set[Path],
         files: set[Path], stack: list[tuple[Path, Path]]) -> None:
    if stat.S_ISDIR(st.st_mode):
        if real not in seen:                   # a folder reached twice is walked once
            seen.add(real)
            stack.append((path, real))
    elif stat.S_ISREG(st.st_mode) and real not in files:   # a file reached twice: once
        files.add(real)
        tree.files.append(path)

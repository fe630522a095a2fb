#!/usr/bin/env bash
# Set up radiovae on this machine (idempotent), then run the given command inside its venv.
#   bash scripts/run.sh radiovae demo      # the main job
#   bash scripts/run.sh pytest             # the tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${RADIOVAE_VENV:-$root/.venv}"
py="${PYTHON:-python3}"

# Sionna RT (ray-traced maps) runs on Dr.Jit's LLVM backend, which needs LLVM 19's shared library.
if ! ls /usr/lib/*/libLLVM*19*.so* >/dev/null 2>&1 && ! ls /usr/lib/llvm-19/lib/libLLVM*.so* >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "radiovae setup: installing libllvm19 (for ray-traced maps)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libllvm19) >&2
  else
    echo "radiovae setup: libllvm19 not installed and not root: ray-traced maps will be unavailable" >&2
  fi
fi
if [ -z "${DRJIT_LIBLLVM_PATH:-}" ]; then
  so=$(ls /usr/lib/llvm-19/lib/libLLVM.so.1 /usr/lib/llvm-19/lib/libLLVM*.so* /usr/lib/*/libLLVM-19.so* /usr/lib/*/libLLVM.so.19* 2>/dev/null | head -n 1 || true)
  [ -n "$so" ] && export DRJIT_LIBLLVM_PATH="$so"
fi

stamp="$venv/.radiovae-installed"
if [ ! -x "$venv/bin/python" ]; then
  echo "radiovae setup: creating $venv" >&2
  "$py" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  echo "radiovae setup: installing radiovae and its dependencies (CPU PyTorch)" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[dev,raytrace]" >&2
  touch "$stamp"
fi
export MPLBACKEND=Agg
exec "$venv/bin/$1" "${@:2}"

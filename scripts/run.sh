#!/usr/bin/env bash
# Set up radiovae on this machine (idempotent), then run the given command inside its venv.
#   bash scripts/run.sh radiovae demo      # the main job
#   bash scripts/run.sh pytest             # the tests
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${RADIOVAE_VENV:-$root/.venv}"
py="${PYTHON:-python3}"

# Sionna RT (ray-traced maps, the `raytrace` extra) runs on Dr.Jit's LLVM backend, which needs LLVM's
# shared library, 17 or newer (14/15 abort with "Cannot select ... fmaximum"): Debian's libllvm19,
# whose library is /usr/lib/<arch>/libLLVM.so.19.1 (libLLVM-19.so links to it).
find_llvm19() {
  { dpkg -L libllvm19 2>/dev/null; ls -1 /usr/lib/*/libLLVM.so.19* /usr/lib/*/libLLVM-19.so* \
      /usr/lib/llvm-19/lib/libLLVM*.so* 2>/dev/null; } \
    | grep -E '/libLLVM(\.so\.19[.0-9]*|-19\.so[.0-9]*)$' \
    | while read -r f; do [ -e "$f" ] && echo "$f"; done | head -n 1 || true
}
llvm_so="$(find_llvm19)"
if [ -z "$llvm_so" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "radiovae setup: installing libllvm19 (for ray-traced maps)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libllvm19) >&2 \
      || echo "radiovae setup: could not install libllvm19: ray-traced maps will be unavailable" >&2
    llvm_so="$(find_llvm19)"
  else
    echo "radiovae setup: libllvm19 missing (as root: apt-get install libllvm19):" \
      "ray-traced maps will be unavailable" >&2
  fi
fi
if [ -z "${DRJIT_LIBLLVM_PATH:-}" ] && [ -n "$llvm_so" ]; then
  export DRJIT_LIBLLVM_PATH="$llvm_so"
fi

# The RadioDiff log scanner is C (src/radiovae/runlog/_scan.c), compiled at install: a C compiler.
if ! command -v cc >/dev/null && ! command -v gcc >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "radiovae setup: installing gcc (to compile the log scanner)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc) >&2 \
      || echo "radiovae setup: could not install gcc: RadioDiff logs will be read line by line" >&2
  else
    echo "radiovae setup: no C compiler: RadioDiff logs will be read line by line (slower)" >&2
  fi
fi

stamp="$venv/.radiovae-installed"
if [ ! -x "$venv/bin/python" ]; then
  echo "radiovae setup: creating $venv" >&2
  "$py" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ] || [ "$root/setup.py" -nt "$stamp" ] \
    || [ "$root/src/radiovae/runlog/_scan.c" -nt "$stamp" ]; then
  echo "radiovae setup: installing radiovae and its dependencies (CPU PyTorch)" >&2
  # (pip's notes about local index folders it cannot use are noise: filtered out)
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[dev,raytrace,distributed]" 2>&1 \
    | { grep -v "^WARNING: Location .* is ignored" || true; } >&2
  touch "$stamp"
fi
export MPLBACKEND=Agg
exec "$venv/bin/$1" "${@:2}"

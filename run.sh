#!/usr/bin/env bash
# Quick start, 1 of 2: set up what is missing, then serve the web app with the shipped editor on
# http://127.0.0.1:${GRADIO_SERVER_PORT:-7860}. Flags go to `diffchat serve` (e.g. --backend tiny: offline).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/scripts/setup.sh"
exec "$VENV/bin/diffchat" serve "$@"

#!/usr/bin/env bash
# The README's first command: set up a fresh Debian machine (scripts/setup.sh) and run the demo
# (a virtual node in network namespaces, web pods behind a Service VIP, traffic through podnet).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/as-root.sh
bash scripts/setup.sh
npm run demo

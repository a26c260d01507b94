#!/usr/bin/env bash
# Installs the benchmark's peers, pinned: mingo (npm, bench/peers/node_modules) and mongomock
# with pymongo's bson (PyPI, .venv-bench). Idempotent; the benchmark runs it first.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules/mingo ]; then
    echo "== installing mingo (npm)"
    if [ -f package-lock.json ]; then npm ci --silent --no-audit --no-fund; else npm install --silent --no-audit --no-fund; fi
fi
venv=../../.venv-bench
if ! "$venv/bin/python" -c 'import mongomock, bson' 2>/dev/null; then
    echo "== installing mongomock (PyPI) into .venv-bench"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check mongomock==4.3.0 pymongo==4.10.1
fi

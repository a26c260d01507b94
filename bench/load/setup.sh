#!/usr/bin/env bash
# Installs h2load (Debian's nghttp2-client) for the load benchmark's h2load rows. Idempotent;
# the benchmark runs it when h2load is missing, and leaves those rows out if it fails.
set -euo pipefail
command -v h2load >/dev/null && exit 0
echo "== installing h2load (apt: nghttp2-client)"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get install -y -qq nghttp2-client >/dev/null || {
    $sudo apt-get update -qq && $sudo apt-get install -y -qq nghttp2-client >/dev/null
}

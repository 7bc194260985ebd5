#!/usr/bin/env bash
# Installs the Debian packages the Swift build and tests need (non-interactive, idempotent).
set -euo pipefail
# chromium-headless-shell and a font: the page test runs the page in a real browser.
packages=(libopenblas-dev libpng-dev libsentencepiece-dev sentencepiece libssl-dev pkg-config chromium-headless-shell fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"

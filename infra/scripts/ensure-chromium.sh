#!/usr/bin/env bash
# Install Debian's Chromium unless /usr/bin/chromium is already there.
# The portal's end-to-end tests drive it through Playwright's executable_path
# (never `playwright install`). Idempotent and quiet when nothing needs doing.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null; then
    as_root=(sudo)
else
    echo "ensure-chromium: Chromium is missing and installing it needs root or sudo" >&2
    exit 1
fi

echo "ensure-chromium: installing Chromium from Debian's packages" >&2
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x /usr/bin/chromium ]; then
    echo "ensure-chromium: installed, yet no /usr/bin/chromium" >&2
    exit 1
fi

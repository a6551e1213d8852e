#!/usr/bin/env bash
# Headless Chromium for the browser tests and `make screenshots`: Debian's package (Playwright
# drives it; its own browser download cannot be reached from machines without internet).
# Idempotent. Usage: deploy/local/chromium.sh [install]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install() {
    # DejaVu gives every page the same fallback fonts the screenshots were taken with.
    command -v chromium >/dev/null 2>&1 || apt_install chromium fonts-dejavu-core
    echo "CHROMIUM=$(command -v chromium)"
}

only_install "$@"

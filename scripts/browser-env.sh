# Sourced by scripts/test: Debian's chromium for the dashboard test (Playwright drives it;
# it fetches no browser of its own). Installed with apt when missing and we may (root);
# otherwise the test stops here and says what to install. Idempotent.

export SPACEJOBS_CHROMIUM="${SPACEJOBS_CHROMIUM:-/usr/bin/chromium}"
if ! "$SPACEJOBS_CHROMIUM" --version >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing chromium (Debian) for the dashboard test"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
        "$SPACEJOBS_CHROMIUM" --version >/dev/null 2>&1 \
            || { echo "chromium installed, but $SPACEJOBS_CHROMIUM does not run"; exit 1; }
    else
        echo "the dashboard test needs Debian's chromium: apt-get install chromium (or set SPACEJOBS_CHROMIUM)"
        exit 1
    fi
fi

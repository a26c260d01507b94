# Sourced by scripts/test: installs SecantusDB (a MongoDB-wire-compatible test server, pinned)
# into .venv if needed, starts it on a free loopback port with in-memory storage, exports
# MONGODB_URI, and stops it by PID when the sourcing shell exits, even when tests fail.
# Also exports SPACEJOBS_MONGOD_CMD, the command the restart test uses to run its own server.
# --standalone: as a single-node replica set SecantusDB spends ~40 ms on every write (its
# oplog); standalone, ~1.5 ms. So the suite runs on a standalone server (the store's
# behaviour without transactions), and the transaction tests start their own replica set
# (SPACEJOBS_MONGOD_RS_CMD); the same tests run unchanged against a replica set given as
# MONGODB_URI.

SECANTUSDB_VERSION="0.7.0b3"
venv="$PWD/.venv"
if ! "$venv/bin/secantusd-py" --help >/dev/null 2>&1; then
    echo "== installing secantusdb==$SECANTUSDB_VERSION into .venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "secantusdb==$SECANTUSDB_VERSION"
fi
default_cmd="$venv/bin/secantusd-py --host 127.0.0.1 --port {port} --storage-path :memory: --standalone"
export SPACEJOBS_MONGOD_CMD="${SPACEJOBS_MONGOD_CMD:-$default_cmd}"
# The transaction tests' own single-node replica set (SecantusDB's default mode).
default_rs_cmd="$venv/bin/secantusd-py --host 127.0.0.1 --port {port} --storage-path :memory:"
export SPACEJOBS_MONGOD_RS_CMD="${SPACEJOBS_MONGOD_RS_CMD:-$default_rs_cmd}"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

mongo_port=$(free_port)
mongo_log=$(mktemp)
"$venv/bin/secantusd-py" --host 127.0.0.1 --port "$mongo_port" --storage-path :memory: --standalone >"$mongo_log" 2>&1 &
mongo_pid=$!
stop_test_mongo() {
    kill "$mongo_pid" 2>/dev/null || true
    wait "$mongo_pid" 2>/dev/null || true
    rm -f "$mongo_log"
}
trap stop_test_mongo EXIT
for _ in $(seq 1 120); do
    if (echo >"/dev/tcp/127.0.0.1/$mongo_port") 2>/dev/null; then break; fi
    if ! kill -0 "$mongo_pid" 2>/dev/null; then
        echo "the test MongoDB server exited:"; cat "$mongo_log"; exit 1
    fi
    sleep 0.5
done
export MONGODB_URI="mongodb://127.0.0.1:$mongo_port"
echo "== test MongoDB (SecantusDB $SECANTUSDB_VERSION) at $MONGODB_URI, pid $mongo_pid"

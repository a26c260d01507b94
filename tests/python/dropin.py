"""The inventory binary dropped into a SpaceONE deployment as the Helm chart lays it out: no
flags at all, only SPACEONE_CONFIG_FILE (config.yaml with GLOBAL and REMOTE_URL to
database.yaml, shared.yaml and application.yaml) and SPACEONE_PORT, against a MongoDB server
of the test's own (SPACEJOBS_MONGOD_CMD, with a user and password) and an identity service
written with SpaceONE's published stubs.

Shown: `import` and `serve` take the database from the config; SpaceONE's Python client with a
token lists its domain's documents and a call without a token is refused; `config` names where
each setting came from with the password masked; the password appears in no log line and the
log (a pipe) holds no escape byte; unused keys are named in a warning; /readyz answers 503
while the MongoDB server is stopped and 200 once it is back. Prints "python: N passed, M
failed".
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from auth_clients import Key, identity_server  # noqa: E402
from spaceone_clients import BIN_DIR, BINARIES, ROOT, free_port, report  # noqa: E402

PASSWORD = "s3cret-Pa55"


class MongoServer:
    """A server from SPACEJOBS_MONGOD_CMD on a fixed port, which can be stopped and started."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self):
        line = os.environ["SPACEJOBS_MONGOD_CMD"].replace("{port}", str(self.port))
        self.proc = subprocess.Popen(line.split(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, 60)
        # The user the config names (servers without --auth still authenticate it).
        from pymongo import MongoClient
        client = MongoClient(f"mongodb://127.0.0.1:{self.port}", serverSelectionTimeoutMS=30000)
        try:
            client.admin.command("createUser", "inventory_user", pwd=PASSWORD, roles=["root"])
        except Exception as e:  # already there (a server that keeps its data)
            if "already exists" not in str(e):
                raise
        client.close()

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def wait_for_port(port, seconds):
    import socket
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def write_config(directory, mongo_port, identity_port, database):
    """The four files as the chart mounts them (paths under a directory of the test's)."""
    files = {name: os.path.join(directory, f"{name}.yaml") for name in ("config", "database", "shared", "application")}
    with open(files["config"], "w") as f:
        f.write(f"""REMOTE_URL:
- file://{files["database"]}
- file://{files["shared"]}
- file://{files["application"]}
GLOBAL:
  MAX_WORKERS: 1000
  DATABASES:
    default:
      db: inventory
      host: mongodb
      port: 27017
      maxPoolSize: 200
      username: inventory_user
      password: inventory_password
  CACHES:
    default:
      backend: spaceone.core.cache.redis_cache.RedisCache
      host: redis
      port: 6379
  LOG:
    loggers:
      spaceone:
        handlers: [console, file]
""")
    with open(files["database"], "w") as f:
        f.write(f"""DATABASES:
  default:
    db: {database}
    host: 127.0.0.1
    port: {mongo_port}
    username: inventory_user
    password: {PASSWORD}
    authentication_source: admin
    read_preference: PRIMARY
""")
    with open(files["shared"], "w") as f:
        f.write(f"""HANDLERS:
  authentication:
  - backend: spaceone.core.handler.authentication_handler.AuthenticationGRPCHandler
    uri: grpc://127.0.0.1:{identity_port}/v1/Domain/get_public_key
  authorization:
  - backend: spaceone.core.handler.authorization_handler.AuthorizationGRPCHandler
    uri: grpc://127.0.0.1:{identity_port}/v1/Authorization/verify
  mutation:
  - backend: spaceone.core.handler.mutation_handler.SpaceONEMutationHandler
CONNECTORS:
  SpaceConnector:
    endpoints:
      identity: grpc://127.0.0.1:{identity_port}
      secret: grpc://secret:50051
""")
    with open(files["application"], "w") as f:
        f.write("collect_queue: collector_q\n")
    return files["config"]


def spaceone_env(config, port=None):
    """The chart's environment and nothing of ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SPACEJOBS_") and k not in ("MONGODB_URI", "RUST_LOG")}
    env["SPACEONE_CONFIG_FILE"] = config
    if port is not None:
        env["SPACEONE_PORT"] = str(port)
    return env


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_for_readyz(url, status, seconds):
    deadline = time.time() + seconds
    seen = None
    while time.time() < deadline:
        seen = http_get(url)
        if seen[0] == status:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"/readyz did not turn {status} in {seconds} s: {seen}")


def drop_in():
    work = tempfile.mkdtemp(prefix="spacejobs-dropin-")
    binary = os.path.join(BIN_DIR, BINARIES["inventory"])
    key = Key(work)
    identity, identity_port = identity_server(key, "domain-a")
    mongo = MongoServer()
    mongo.start()
    config = write_config(work, mongo.port, identity_port, f"dropin_{os.getpid()}")
    proc = None
    try:
        # import: the documents go where the config says.
        with open(os.path.join(ROOT, "tests", "corpus", "dataset", "inventory.json")) as f:
            docs = json.load(f)
        lines = os.path.join(work, "dataset.jsonl")
        with open(lines, "w") as f:
            for doc in docs:
                f.write(json.dumps(doc) + "\n")
        imported = subprocess.run([binary, "import", lines], env=spaceone_env(config),
                                  capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported.stderr

        # config: each setting's source, the password masked.
        port = free_port()
        shown = subprocess.run([binary, "config"], env=spaceone_env(config, port),
                               capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        rows = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
        assert PASSWORD not in shown.stdout and "inventory_password" not in shown.stdout, shown.stdout
        assert f"mongodb://inventory_user:****@127.0.0.1:{mongo.port}/" in rows["mongodb-uri"], rows["mongodb-uri"]
        assert "database.yaml" in rows["mongodb-uri"], rows["mongodb-uri"]
        assert f"0.0.0.0:{port}" in rows["listen"] and "environment SPACEONE_PORT" in rows["listen"], rows["listen"]
        assert "spaceone" in rows["auth"] and "shared.yaml (HANDLERS.authentication)" in rows["auth"], rows["auth"]
        assert f"grpc://127.0.0.1:{identity_port}" in rows["identity-endpoint"], rows["identity-endpoint"]
        assert "PRIMARY" in rows["read-preference"] and "database.yaml" in rows["read-preference"]
        assert "200" in rows["max-pool-size"] and "config.yaml" in rows["max-pool-size"]
        assert "default" in rows["request-timeout-ms"], rows["request-timeout-ms"]
        assert "CACHES" in shown.stdout and "MAX_WORKERS" in shown.stdout, shown.stdout

        # serve: no flags at all.
        log_path = os.path.join(work, "serve.log")
        log = open(log_path, "wb")
        proc = subprocess.Popen([binary], env=spaceone_env(config, port), stdout=subprocess.DEVNULL, stderr=log)
        wait_for_port(port, 30)
        endpoint = f"127.0.0.1:{port}"

        from spaceone.core import pygrpc
        from spaceone.core.error import ERROR_BASE
        client = pygrpc.client(endpoint=endpoint)
        token = key.token({"did": "domain-a", "aud": "user-1", "user_type": "USER", "exp": int(time.time()) + 3600})
        listed = client.JobTask.list({"domain_id": "domain-b", "query": {}}, metadata=(("token", token),))
        assert listed.total_count == 9, listed.total_count
        assert {r.domain_id for r in listed.results} == {"domain-a"}
        try:
            client.JobTask.list({"domain_id": "domain-a", "query": {}})
        except ERROR_BASE as e:
            assert e.error_code == "ERROR_AUTHENTICATE_FAILURE", e
        else:
            raise AssertionError("served without a token")

        # /readyz follows the database.
        readyz = f"http://{endpoint}/readyz"
        assert http_get(f"http://{endpoint}/healthz")[0] == 200
        wait_for_readyz(readyz, 200, 10)
        mongo.stop()
        status, body = wait_for_readyz(readyz, 503, 30)
        assert body["error"]["code"] == "ERROR_DB_UNAVAILABLE", body
        assert http_get(f"http://{endpoint}/healthz")[0] == 200, "alive while the database is down"
        mongo.start()
        wait_for_readyz(readyz, 200, 60)

        log.flush()
        text = open(log_path, "rb").read()
        assert b"\x1b" not in text, "an escape byte in the log"
        assert PASSWORD.encode() not in text, "the password in the log"
        warning = [line for line in text.decode().splitlines() if "does not use" in line]
        assert warning and "CACHES" in warning[0] and "MAX_WORKERS" in warning[0], text.decode()[-2000:]
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=30)
        mongo.stop()
        identity.stop(None)


def main():
    sys.exit(report([
        ("the binary with only SPACEONE_CONFIG_FILE and SPACEONE_PORT (MongoDB, identity, probes)", drop_in),
    ]))


if __name__ == "__main__":
    main()

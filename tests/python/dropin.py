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

`dropin.py --image IMAGE` does the same with a container image's own root filesystem (exported
with buildah, as root): the entrypoint, user, working directory and environment the image
declares, in a chroot holding only the image's files, the config mounted where the chart
mounts it (/opt/spaceone/inventory/config) and the names `mongodb` and `identity` in its
/etc/hosts, as a container runtime provides them.
"""

import glob
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


def write_config(directory, seen_as, hosts, mongo_port, identity_port, database):
    """The four files as the chart mounts them, written in `directory`, which the binary sees
    as `seen_as`; `hosts` names MongoDB and identity. The config file's path as seen."""
    names = ("config", "database", "shared", "application")
    written = {name: os.path.join(directory, f"{name}.yaml") for name in names}
    files = {name: os.path.join(seen_as, f"{name}.yaml") for name in names}
    mongo_host, identity_host = hosts
    with open(written["config"], "w") as f:
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
    with open(written["database"], "w") as f:
        f.write(f"""DATABASES:
  default:
    db: {database}
    host: {mongo_host}
    port: {mongo_port}
    username: inventory_user
    password: {PASSWORD}
    authentication_source: admin
    read_preference: PRIMARY
""")
    with open(written["shared"], "w") as f:
        f.write(f"""HANDLERS:
  authentication:
  - backend: spaceone.core.handler.authentication_handler.AuthenticationGRPCHandler
    uri: grpc://{identity_host}:{identity_port}/v1/Domain/get_public_key
  authorization:
  - backend: spaceone.core.handler.authorization_handler.AuthorizationGRPCHandler
    uri: grpc://{identity_host}:{identity_port}/v1/Authorization/verify
  mutation:
  - backend: spaceone.core.handler.mutation_handler.SpaceONEMutationHandler
CONNECTORS:
  SpaceConnector:
    endpoints:
      identity: grpc://{identity_host}:{identity_port}
      secret: grpc://secret:50051
""")
    with open(written["application"], "w") as f:
        f.write("collect_queue: collector_q\n")
    return files["config"]


class Host:
    """Runs the binary of the build directly."""

    hosts = ("127.0.0.1", "127.0.0.1")

    def __init__(self, work):
        self.config_dir = os.path.join(work, "config")
        os.makedirs(self.config_dir)
        self.config_seen_as = self.config_dir
        self.files_dir = work

    def command(self, args):
        return [os.path.join(BIN_DIR, BINARIES["inventory"])] + args

    def env(self, env):
        return env

    def preexec(self):
        return None


class ImageRoot:
    """Runs an image's entrypoint in a chroot of its exported root filesystem, as its user,
    in its working directory, with its environment under the chart's."""

    hosts = ("mongodb", "identity")

    def __init__(self, work, image):
        layout = os.path.join(work, "oci")
        subprocess.run(["buildah", "push", "--quiet", image, f"oci:{layout}"], check=True,
                       env=dict(os.environ, STORAGE_DRIVER=os.environ.get("STORAGE_DRIVER", "vfs")))
        self.root = os.path.join(work, "rootfs")
        os.makedirs(self.root)
        blob = lambda digest: os.path.join(layout, "blobs", *digest.split(":"))  # noqa: E731
        index = json.load(open(os.path.join(layout, "index.json")))
        manifest = json.load(open(blob(index["manifests"][0]["digest"])))
        for layer in manifest["layers"]:
            subprocess.run(["tar", "-xf", blob(layer["digest"]), "-C", self.root], check=True)
        self.config = json.load(open(blob(manifest["config"]["digest"])))["config"]
        files = sorted(os.path.relpath(p, self.root) for p in glob.glob(os.path.join(self.root, "**"), recursive=True))
        print(f"image {image}: {files}, entrypoint {self.config['Entrypoint']}, user {self.config.get('User')}")
        # What a container runtime provides: device nodes, /etc/hosts, the chart's mounts.
        os.makedirs(os.path.join(self.root, "dev"), exist_ok=True)
        for name, minor in (("null", 3), ("random", 8), ("urandom", 9)):
            os.mknod(os.path.join(self.root, "dev", name), 0o20666, os.makedev(1, minor))
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        with open(os.path.join(self.root, "etc", "hosts"), "w") as f:
            f.write("127.0.0.1 localhost mongodb identity\n")
        self.config_seen_as = "/opt/spaceone/inventory/config"
        self.config_dir = os.path.join(self.root, self.config_seen_as.lstrip("/"))
        os.makedirs(self.config_dir)
        self.files_dir = os.path.join(self.root, "tmp")
        os.makedirs(self.files_dir, exist_ok=True)
        os.chmod(self.files_dir, 0o1777)

    def command(self, args):
        return self.config["Entrypoint"] + args

    def env(self, env):
        image_env = dict(item.split("=", 1) for item in self.config.get("Env", []))
        return dict(image_env, **{k: v for k, v in env.items() if k.startswith(("SPACEONE_", "SPACEJOBS_"))})

    def preexec(self):
        root, workdir = self.root, self.config.get("WorkingDir") or "/"
        user, _, group = (self.config.get("User") or "0:0").partition(":")

        def enter():
            os.chroot(root)
            os.chdir(workdir)
            os.setgroups([])
            os.setgid(int(group or user))
            os.setuid(int(user))
        return enter

    def seen(self, path):
        """A path of the host under the root, as the process sees it."""
        return "/" + os.path.relpath(path, self.root)


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


def drop_in(image=None):
    work = tempfile.mkdtemp(prefix="spacejobs-dropin-")
    runner = ImageRoot(work, image) if image else Host(work)
    run = lambda args, env, **kw: subprocess.run(runner.command(args), env=runner.env(env),  # noqa: E731
                                                 preexec_fn=runner.preexec(), **kw)
    key = Key(work)
    identity, identity_port = identity_server(key, "domain-a")
    mongo = MongoServer()
    mongo.start()
    config = write_config(runner.config_dir, runner.config_seen_as, runner.hosts, mongo.port, identity_port,
                          f"dropin_{os.getpid()}")
    proc = None
    try:
        # import: the documents go where the config says.
        with open(os.path.join(ROOT, "tests", "corpus", "dataset", "inventory.json")) as f:
            docs = json.load(f)
        lines = os.path.join(runner.files_dir, "dataset.jsonl")
        with open(lines, "w") as f:
            for doc in docs:
                f.write(json.dumps(doc) + "\n")
        os.chmod(lines, 0o644)
        lines_seen = runner.seen(lines) if image else lines
        imported = run(["import", lines_seen], spaceone_env(config), capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported.stderr

        # config: each setting's source, the password masked.
        port = free_port()
        shown = run(["config"], spaceone_env(config, port), capture_output=True, text=True, timeout=60)
        assert shown.returncode == 0, shown.stderr
        rows = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
        assert PASSWORD not in shown.stdout and "inventory_password" not in shown.stdout, shown.stdout
        assert f"mongodb://inventory_user:****@{runner.hosts[0]}:{mongo.port}/" in rows["mongodb-uri"], rows["mongodb-uri"]
        assert "database.yaml" in rows["mongodb-uri"], rows["mongodb-uri"]
        assert f"0.0.0.0:{port}" in rows["listen"] and "environment SPACEONE_PORT" in rows["listen"], rows["listen"]
        assert "spaceone" in rows["auth"] and "shared.yaml (HANDLERS.authentication)" in rows["auth"], rows["auth"]
        assert f"grpc://{runner.hosts[1]}:{identity_port}" in rows["identity-endpoint"], rows["identity-endpoint"]
        assert "PRIMARY" in rows["read-preference"] and "database.yaml" in rows["read-preference"]
        assert "200" in rows["max-pool-size"] and "config.yaml" in rows["max-pool-size"]
        assert "default" in rows["request-timeout-ms"], rows["request-timeout-ms"]
        assert "CACHES" in shown.stdout and "MAX_WORKERS" in shown.stdout, shown.stdout
        # Flags and our environment variables win over the file.
        env = dict(spaceone_env(config, port), SPACEJOBS_AUTH="none")
        shown = run(["--database", "other", "config"], env, capture_output=True, text=True, timeout=60)
        rows = {line.split()[0]: line for line in shown.stdout.splitlines() if line.strip()}
        assert rows["database"].split()[1:] == ["other", "flag"], rows["database"]
        assert "environment SPACEJOBS_AUTH" in rows["auth"] and " none " in rows["auth"], rows["auth"]

        # serve: no flags at all.
        log_path = os.path.join(work, "serve.log")
        log = open(log_path, "wb")
        env = spaceone_env(config, port)
        proc = subprocess.Popen(runner.command([]), env=runner.env(env), preexec_fn=runner.preexec(),
                                stdout=subprocess.DEVNULL, stderr=log)
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
    if len(sys.argv) == 3 and sys.argv[1] == "--image":
        image = sys.argv[2]
        sys.exit(report([
            (f"the image {image}'s root filesystem with only SPACEONE_CONFIG_FILE and SPACEONE_PORT",
             lambda: drop_in(image)),
        ]))
    sys.exit(report([
        ("the binary with only SPACEONE_CONFIG_FILE and SPACEONE_PORT (MongoDB, identity, probes)", drop_in),
    ]))


if __name__ == "__main__":
    main()

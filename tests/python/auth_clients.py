"""SpaceONE's own Python client and spacectl with a token (as api_key) against our binaries with
authentication on: `--auth jwks` (a JWKS file) and `--auth spaceone` (an identity service of
our own, written with SpaceONE's published identity stubs). The RSA key and the tokens are
made here with the openssl command line. Prints "python: N passed, M failed".
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spaceone_clients import BINARIES, BIN_DIR, ENV, ROOT, free_port, report  # noqa: E402


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Key:
    """An RSA key made with openssl; signs RS256 tokens and gives its public JWK."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "key.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                        "-out", self.path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        modulus = subprocess.run(["openssl", "rsa", "-in", self.path, "-noout", "-modulus"], check=True,
                                 capture_output=True, text=True).stdout.strip().split("=", 1)[1]
        self.jwk = {"kty": "RSA", "alg": "RS256", "use": "sig",
                    "n": b64url(bytes.fromhex(modulus)), "e": b64url((65537).to_bytes(3, "big"))}

    def token(self, claims):
        header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        payload = b64url(json.dumps(claims).encode())
        signing_input = f"{header}.{payload}".encode()
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.path], input=signing_input,
                                   check=True, capture_output=True).stdout
        return f"{header}.{payload}.{b64url(signature)}"


def serve(data_dir, flags):
    """The inventory binary on the corpus dataset with `flags`; (process, endpoint)."""
    binary = os.path.join(BIN_DIR, BINARIES["inventory"])
    db = os.path.join(data_dir, "db")
    if not os.path.exists(db):
        with open(os.path.join(ROOT, "tests", "corpus", "dataset", "inventory.json")) as f:
            docs = json.load(f)
        lines = os.path.join(data_dir, "dataset.jsonl")
        with open(lines, "w") as f:
            for doc in docs:
                f.write(json.dumps(doc) + "\n")
        subprocess.run([binary, "import", lines, "--data-dir", db], check=True, env=ENV,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", db] + flags,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the binary did not listen")


def check_client(endpoint, token):
    """SpaceONE's client with the token as its api_key: bound to the token's domain."""
    from spaceone.core import pygrpc
    from spaceone.core.error import ERROR_BASE

    client = pygrpc.client(endpoint=endpoint)
    metadata = (("token", token),)
    # The request names domain-b; the token's domain-a is what it reads.
    listed = client.JobTask.list({"domain_id": "domain-b", "query": {}}, metadata=metadata)
    assert listed.total_count == 9, listed.total_count
    assert {r.domain_id for r in listed.results} == {"domain-a"}
    stat = client.JobTask.stat({"domain_id": "domain-b", "query": {"distinct": "domain_id"}}, metadata=metadata)
    assert list(stat["results"]) == ["domain-a"], stat
    try:
        client.JobTask.list({"domain_id": "domain-a", "query": {}})
    except ERROR_BASE as e:  # SpaceONE's client turns the status into its own error
        assert e.error_code == "ERROR_AUTHENTICATE_FAILURE", e
        assert e.status_code == "UNAUTHENTICATED", e
        assert "Empty token provided." in e.message, e
    else:
        raise AssertionError("served without a token")


def spacectl_list(endpoint, token, work):
    """`spacectl list inventory.JobTask` with `token` as its api_key (its own config files, in
    a HOME of ours): the finished process."""
    home = os.path.join(work, "home")
    environments = os.path.join(home, ".spaceone", "environments")
    os.makedirs(environments, exist_ok=True)
    with open(os.path.join(home, ".spaceone", "environment.yml"), "w") as f:
        f.write("environment: test\n")
    with open(os.path.join(environments, "test.yml"), "w") as f:
        f.write(f"api_key: {token}\nendpoints:\n  inventory: grpc://{endpoint}\n")
    spacectl = os.path.join(os.path.dirname(sys.executable), "spacectl")
    env = dict(ENV, HOME=home)
    return subprocess.run([spacectl, "list", "inventory.JobTask", "-p", "domain_id=domain-b", "-o", "json"],
                          env=env, capture_output=True, text=True, timeout=60)


def check_spacectl(endpoint, token, work):
    """spacectl with the token as its api_key lists the token's domain."""
    out = spacectl_list(endpoint, token, work)
    assert out.returncode == 0, out.stderr or out.stdout
    rows = json.loads(out.stdout)
    rows = rows.get("results", rows) if isinstance(rows, dict) else rows
    assert len(rows) == 9 and {r["domain_id"] for r in rows} == {"domain-a"}, out.stdout[:500]


def identity_server(key, domain):
    """SpaceONE identity, as far as our binaries use it, with the published stubs."""
    import grpc
    from spaceone.api.core.v1 import handler_pb2
    from spaceone.api.identity.v1 import authorization_pb2_grpc, domain_pb2_grpc

    class Domain(domain_pb2_grpc.DomainServicer):
        def get_public_key(self, request, context):
            if request.domain_id != domain:
                context.abort(grpc.StatusCode.NOT_FOUND, "ERROR_NOT_FOUND")
            return handler_pb2.AuthenticationResponse(domain_id=domain, public_key=json.dumps(key.jwk))

    class Authorization(authorization_pb2_grpc.AuthorizationServicer):
        def verify(self, request, context):
            token = dict(context.invocation_metadata()).get("token")
            assert token, "the caller's token is passed on"
            assert (request.service, request.resource, request.verb) == ("inventory", "JobTask", "list") or \
                request.verb == "stat", request
            return handler_pb2.AuthorizationResponse(role_type="DOMAIN")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    domain_pb2_grpc.add_DomainServicer_to_server(Domain(), server)
    authorization_pb2_grpc.add_AuthorizationServicer_to_server(Authorization(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def api_key(key):
    """An API key as identity 1.9 mints one: no `exp`, and here no `user_type` either."""
    return key.token({"cat": "API_KEY", "did": "domain-a", "aud": "user-1", "iat": int(time.time()),
                      "api_key_id": "api-key-0123456789ab", "ver": "2020-12-07"})


def check_forged_api_key(endpoint, work):
    """An API key signed with another key is refused: spacectl lists nothing, the client gets
    ERROR_AUTHENTICATE_FAILURE / UNAUTHENTICATED."""
    from spaceone.core import pygrpc
    from spaceone.core.error import ERROR_BASE

    forged = api_key(Key(tempfile.mkdtemp(prefix="spacejobs-forger-")))
    out = spacectl_list(endpoint, forged, work)
    # spacectl's words for ERROR_AUTHENTICATE_FAILURE (it exits 0 all the same).
    assert "The api_key of spaceconfig is not set" in out.stdout and "job_task_id" not in out.stdout, out
    try:
        pygrpc.client(endpoint=endpoint).JobTask.list({"domain_id": "domain-a", "query": {}},
                                                      metadata=(("token", forged),))
    except ERROR_BASE as e:
        assert e.error_code == "ERROR_AUTHENTICATE_FAILURE" and e.status_code == "UNAUTHENTICATED", e
    else:
        raise AssertionError("a forged API key was served")


def main():
    work = tempfile.mkdtemp(prefix="spacejobs-auth-")
    key = Key(work)
    token = key.token({"did": "domain-a", "aud": "user-1", "user_type": "USER", "exp": int(time.time()) + 3600})
    def jwks_mode():
        jwks = os.path.join(work, "jwks.json")
        with open(jwks, "w") as f:
            json.dump({"keys": [key.jwk]}, f)
        proc, endpoint = serve(work, ["--auth", "jwks", "--jwks-file", jwks])
        try:
            check_client(endpoint, token)
            check_spacectl(endpoint, token, work)
        finally:
            proc.kill()
            proc.wait()

    def spaceone_mode():
        server, port = identity_server(key, "domain-a")
        proc, endpoint = serve(work, ["--auth", "spaceone", "--identity-endpoint", f"grpc://127.0.0.1:{port}"])
        try:
            check_client(endpoint, token)
            check_spacectl(endpoint, token, work)
            # SpaceONE's API keys: no expiry, authorized by identity.
            check_client(endpoint, api_key(key))
            check_spacectl(endpoint, api_key(key), work)
            check_forged_api_key(endpoint, work)
        finally:
            proc.kill()
            proc.wait()
            server.stop(None)

    sys.exit(report([
        ("SpaceONE's client and spacectl with a token, --auth jwks", jwks_mode),
        ("SpaceONE's client and spacectl with a token and an API key, --auth spaceone (our identity)",
         spaceone_mode),
    ]))


if __name__ == "__main__":
    main()

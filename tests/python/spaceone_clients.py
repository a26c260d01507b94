"""Real SpaceONE clients against our binaries, unchanged.

inventory and spot_automation: SpaceONE's own Python client (spaceone.core.pygrpc, which
discovers the server by reflection v1alpha) with the published spaceone-api 1.9 stubs.
power_scheduler, whose published 1.9 messages are numbered differently from the contract:
stubs compiled from our proto/ (run in a child process, so the two stub sets never meet).

The servers are the real binaries on the embedded store, filled with the corpus dataset
through `import`. Prints "python: N passed, M failed" and exits non-zero on any failure.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("SPACEJOBS_BIN_DIR", os.path.join(ROOT, "target", "debug"))
BINARIES = {
    "inventory": "inventory-job-task",
    "spot_automation": "spot-automation-job",
    "power_scheduler": "power-scheduler-job",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ENV = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}


def start(service, data=None):
    """Serves `data` (a data dir), or imports the corpus dataset into a fresh one first;
    returns (process, endpoint, data dir)."""
    binary = os.path.join(BIN_DIR, BINARIES[service])
    env = ENV
    if data is None:
        data = tempfile.mkdtemp(prefix=f"spacejobs-{service}-")
        with open(os.path.join(ROOT, "tests", "corpus", "dataset", f"{service}.json")) as f:
            docs = json.load(f)
        lines = os.path.join(data, "dataset.jsonl")
        with open(lines, "w") as f:
            for doc in docs:
                f.write(json.dumps(doc) + "\n")
        subprocess.run([binary, "import", lines, "--data-dir", os.path.join(data, "db")], check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(data, "db")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"127.0.0.1:{port}", data
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{binary} did not listen on {port}")


def check_inventory(endpoint):
    from google.protobuf.json_format import MessageToDict
    from spaceone.api.inventory.v1 import job_task_pb2
    from spaceone.core import pygrpc

    client = pygrpc.client(endpoint=endpoint)
    status = job_task_pb2.JobTaskInfo.JobTaskStatus
    listed = client.JobTask.list({"domain_id": "domain-a", "query": {}})
    assert listed.total_count == 9, listed.total_count
    first = listed.results[0]
    assert first.job_task_id == "job-task-a00000000005", first.job_task_id
    assert first.status == status.Value("PENDING"), first.status
    assert first.created_at == "2022-07-01T06:00:00.000Z", first.created_at
    assert first.started_at == "", first.started_at

    failed = client.JobTask.list({"domain_id": "domain-a", "job_task_id": "job-task-a00000000002"})
    task = failed.results[0]
    assert task.status == status.Value("FAILURE")
    assert [e.error_code for e in task.errors] == ["ERROR_AUTH", "ERROR_TIMEOUT"], task.errors
    assert MessageToDict(task.errors[0].additional) == {"region": "us-east-1"}
    assert task.finished_at == "2022-06-01T10:02:00.000Z", task.finished_at

    paged = client.JobTask.list({"domain_id": "domain-a", "query": {
        "filter": [{"k": "provider", "v": "aws", "o": "eq"}], "sort": {"key": "created_count", "desc": True},
        "page": {"start": 1, "limit": 2}, "only": ["job_task_id", "created_count"]}})
    assert paged.total_count == 4 and [t.job_task_id for t in paged.results] == [
        "job-task-a00000000008", "job-task-a00000000001"], paged
    assert paged.results[0].provider == "" and paged.results[0].created_count == 20

    stat = MessageToDict(client.JobTask.stat({"domain_id": "domain-a", "query": {"aggregate": [
        {"group": {"keys": [{"key": "status", "name": "status"}], "fields": [{"operator": "count", "name": "n"}]}},
        {"sort": {"key": "status"}}]}}))
    assert stat["results"][0] == {"status": "CANCELED", "n": 1}, stat
    assert stat["results"][1] == {"status": "FAILURE", "n": 3}, stat

    distinct = MessageToDict(client.JobTask.stat({"domain_id": "domain-a", "query": {
        "distinct": "created_at", "filter": [{"k": "status", "v": "SUCCESS", "o": "eq"}]}}))
    assert distinct["results"] == ["2022-06-01T10:00:00.000Z", "2022-06-15T08:30:00.250Z", "2022-06-28T09:00:00.000Z"], distinct

    try:
        client.JobTask.list({"query": {}})
        raise AssertionError("a list without domain_id must fail")
    except AssertionError:
        raise
    except Exception as e:  # the client raises SpaceONE's own error types
        assert "ERROR_REQUIRED_PARAMETER" in str(e) and "domain_id" in str(e), str(e)


def check_spot_automation(endpoint):
    from google.protobuf.json_format import MessageToDict
    from spaceone.api.spot_automation.v1 import job_pb2
    from spaceone.core import pygrpc

    client = pygrpc.client(endpoint=endpoint)
    listed = client.Job.list({"domain_id": "domain-a", "query": {}})
    assert listed.total_count == 5, listed.total_count
    job = listed.results[0]
    assert job.job_id == "job-a00000000003", job.job_id
    assert job.status == job_pb2.JobInfo.Status.Value("ERROR"), job.status
    assert MessageToDict(job.filter) == {"region": "koreacentral"}, job.filter
    assert job.created_at == "2022-06-20T11:59:00.000Z" and job.finished_at == "2022-07-01T06:30:00.000Z"
    assert job.errors[0].error_code == "ERROR_TIMEOUT"
    only_status = client.Job.list({"domain_id": "domain-a", "status": "TIMEOUT"})
    assert [j.job_id for j in only_status.results] == ["job-a00000000005"], only_status
    stat = MessageToDict(client.Job.stat({"domain_id": "domain-a", "query": {"aggregate": [
        {"group": {"fields": [{"operator": "sum", "key": "total_tasks", "name": "total"}]}}]}}))
    assert stat == {"results": [{"total": 9}]}, stat


def check_power_scheduler(endpoint):
    """Runs in a child process with stubs compiled from proto/ first on sys.path."""
    import grpc
    from google.protobuf.json_format import MessageToDict
    from spaceone.api.core.v1 import query_pb2
    from spaceone.api.power_scheduler.v1 import job_pb2, job_pb2_grpc

    stub = job_pb2_grpc.JobStub(grpc.insecure_channel(endpoint))
    listed = stub.list(job_pb2.JobsQuery(domain_id="domain-a", query=query_pb2.Query()))
    assert listed.total_count == 3, listed.total_count
    job = listed.results[0]
    assert job.job_id == "job-c00000000003", job.job_id
    assert job.created_at.ToJsonString() == "2022-06-30T00:00:00Z", job.created_at
    assert not job.HasField("finished_at"), job.finished_at
    assert job.controller_info.name == "azure-vm" and job.controller_info.controller_id == "controller-2"
    assert job.controller_info.plugin_info.plugin_id == "plugin-azure-power"
    assert job.controller_info.created_at.ToJsonString() == "2022-01-01T00:00:00Z"
    assert MessageToDict(job.controller_info.capability) == {"supported": ["VM"]}
    by_schedule = stub.list(job_pb2.JobsQuery(domain_id="domain-a", schedule_id="schedule-1"))
    assert [j.job_id for j in by_schedule.results] == ["job-c00000000002", "job-c00000000001"], by_schedule
    done = by_schedule.results[0]
    assert done.finished_at.ToJsonString() == "2022-06-03T00:20:00Z", done.finished_at
    stat = stub.stat(job_pb2.JobStatQuery(domain_id="domain-a", query=query_pb2.StatisticsQuery(distinct="controller.provider")))
    assert MessageToDict(stat) == {"results": ["aws", "azure"]}, stat


def compile_our_protos():
    out = tempfile.mkdtemp(prefix="spacejobs-stubs-")
    files = ["spaceone/api/core/v1/query.proto", "spaceone/api/power_scheduler/v1/job.proto"]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
                    f"--python_out={out}", f"--grpc_python_out={out}", *files], check=True)
    for dirpath, _, _ in os.walk(out):
        open(os.path.join(dirpath, "__init__.py"), "a").close()
    return out


def report(checks):
    """Runs each (name, check): prints "ok: name", or the traceback and "FAILED: name"; then
    "python: N passed, M failed". Returns the exit status."""
    passed, failed = 0, 0
    for name, check in checks:
        try:
            check()
            print(f"ok: {name}")
            passed += 1
        except Exception:
            traceback.print_exc()
            print(f"FAILED: {name}")
            failed += 1
    print(f"python: {passed} passed, {failed} failed")
    return 1 if failed else 0


def on_binary(service, check):
    """`check(endpoint)` on the binary over the imported dataset, and again after a restart on
    the same data directory (which must serve the same data); with no check, power_scheduler
    through stubs compiled from our proto/, in a child process."""
    def run():
        proc, endpoint, data = start(service)
        try:
            if check is None:
                env = dict(os.environ, SPACEJOBS_STUBS=compile_our_protos())
                subprocess.run([sys.executable, __file__, "--power", endpoint], check=True, env=env)
                return
            check(endpoint)
            proc.terminate()
            proc.wait(timeout=10)
            proc, endpoint, _ = start(service, data)
            check(endpoint)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return run


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--power":
        sys.path.insert(0, os.environ["SPACEJOBS_STUBS"])
        check_power_scheduler(sys.argv[2])
        return 0
    services = [("inventory", check_inventory), ("spot_automation", check_spot_automation),
                ("power_scheduler", None)]
    return report([(f"{service} through SpaceONE's clients", on_binary(service, check))
                   for service, check in services])


if __name__ == "__main__":
    sys.exit(main())

"""`GET /metrics` of the real binary, read with Prometheus's own Python parser
(prometheus_client.parser) after known traffic from SpaceONE's Python client and REST.

Prints "python: N passed, M failed" and exits non-zero on any failure.
"""

import json
import sys
import urllib.request

from spaceone_clients import report, start


def scrape(endpoint):
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://{endpoint}/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers["Content-Type"]
        text = answer.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def check_metrics(endpoint):
    from spaceone.core import pygrpc

    client = pygrpc.client(endpoint=endpoint)
    for _ in range(4):
        assert client.JobTask.list({"domain_id": "domain-a", "query": {}}).total_count == 9
    for _ in range(2):
        body = json.dumps({"domain_id": "domain-a", "query": {"distinct": "status"}}).encode()
        request = urllib.request.Request(f"http://{endpoint}/inventory/v1/job-tasks/stat", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    samples = scrape(endpoint)
    labels = lambda **kv: tuple(sorted(kv.items()))  # noqa: E731
    grpc_list = labels(service="inventory", method="list", transport="grpc")
    rest_stat = labels(service="inventory", method="stat", transport="rest")
    assert samples[("spacejobs_requests_total", labels(service="inventory", method="list", transport="grpc",
                                                       status="OK"))] == 4, samples
    assert samples[("spacejobs_requests_total", labels(service="inventory", method="stat", transport="rest",
                                                       status="OK"))] == 2, samples
    assert samples[("spacejobs_request_duration_seconds_count", grpc_list)] == 4
    assert samples[("spacejobs_request_duration_seconds_count", rest_stat)] == 2
    every_bucket = labels(service="inventory", method="list", transport="grpc", le="+Inf")
    assert samples[("spacejobs_request_duration_seconds_bucket", every_bucket)] == 4
    total = samples[("spacejobs_documents", labels(collection="job_task"))]
    by_status = sum(v for (name, _), v in samples.items() if name == "spacejobs_documents_by_status")
    assert total > 0 and by_status == total, (total, by_status)
    assert samples[("spacejobs_requests_in_flight", labels(service="inventory", transport="grpc"))] == 0


def main():
    def scrape_after_traffic():
        proc, endpoint, _ = start("inventory")
        try:
            check_metrics(endpoint)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    return report([("/metrics parsed by prometheus_client after known traffic", scrape_after_traffic)])


if __name__ == "__main__":
    sys.exit(main())

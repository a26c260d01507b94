"""Runs the benchmark's queries with mongomock over the same documents:
    python mongomock_peer.py DOCUMENTS.jsonl QUERIES.json RUNS_BUDGET_MS
Same input and output as mingo.mjs (MongoDB syntax, relaxed extended JSON)."""
import json
import statistics
import sys
import time

import mongomock
from bson import json_util


def main():
    docs_path, queries_path = sys.argv[1], sys.argv[2]
    budget = float(sys.argv[3] if len(sys.argv) > 3 else 2000) / 1000
    t0 = time.perf_counter()
    with open(docs_path) as f:
        docs = [json_util.loads(line) for line in f if line.strip()]
    collection = mongomock.MongoClient().bench.job_task
    collection.insert_many(docs)
    load_ms = (time.perf_counter() - t0) * 1000
    with open(queries_path) as f:
        queries = json_util.loads(f.read())

    def run_once(q):
        if q["kind"] == "count":
            return collection.count_documents(q["filter"])
        if q["kind"] == "find":
            cursor = collection.find(q["filter"], q.get("projection") or None)
            if q.get("sort"):
                cursor = cursor.sort(list(q["sort"].items()))
            if q.get("skip"):
                cursor = cursor.skip(q["skip"])
            if q.get("limit"):
                cursor = cursor.limit(q["limit"])
            rows = len(list(cursor))
            collection.count_documents(q["filter"])
            return rows
        return len(list(collection.aggregate(q["pipeline"])))

    results = {}
    for q in queries:
        try:
            times, rows = [], 0
            start = time.perf_counter()
            # At least 3 runs, unless one run alone takes longer than the budget (mongomock
            # needs seconds per query at 100 k documents): then the single run is the time.
            while (time.perf_counter() - start < budget and len(times) < 20) or (
                len(times) < 3 and time.perf_counter() - start < budget
            ) or not times:
                t = time.perf_counter()
                rows = run_once(q)
                times.append((time.perf_counter() - t) * 1000)
            results[q["name"]] = {"ms": statistics.median(times), "runs": len(times), "rows": rows}
        except Exception as e:  # a query mongomock cannot run is reported, not fatal
            results[q["name"]] = {"error": f"{type(e).__name__}: {e}"}
    print(json.dumps({"load_ms": load_ms, "results": results}))


if __name__ == "__main__":
    main()

// Runs the benchmark's queries with mingo (in-process, node) over the same documents:
//   node mingo.mjs DOCUMENTS.jsonl QUERIES.json RUNS_BUDGET_MS
// DOCUMENTS: MongoDB relaxed extended JSON, one document per line. QUERIES: [{name, kind,
// filter, sort, skip, limit, projection, pipeline}], in MongoDB syntax, as our MongoDB store
// sends them. Prints one JSON object: {"load_ms", "rss_bytes_per_document", "results":
// {name: {"ms": median, "runs": n, "rows": n} | {"error": text}}}.
import { readFileSync } from "node:fs";
import { Query, Aggregator } from "mingo";

const [docsPath, queriesPath, budgetArg] = process.argv.slice(2);
const budget = Number(budgetArg || 2000);

function revive(_key, value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "$date") {
      const d = value.$date;
      return new Date(typeof d === "object" ? Number(d.$numberLong) : d);
    }
    if (keys.length === 1 && keys[0] === "$oid") return value.$oid;
    if (keys.length === 1 && keys[0] === "$numberLong") return Number(value.$numberLong);
  }
  return value;
}

global.gc?.();
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
const docs = readFileSync(docsPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l, revive));
const loadMs = performance.now() - t0;
global.gc?.();
const rssAfter = process.memoryUsage().rss;
const queries = JSON.parse(readFileSync(queriesPath, "utf8"), revive);

function runOnce(q) {
  if (q.kind === "count") return new Query(q.filter).find(docs).all().length;
  if (q.kind === "find") {
    let cursor = new Query(q.filter).find(docs, q.projection || undefined);
    if (q.sort) cursor = cursor.sort(q.sort);
    if (q.skip) cursor = cursor.skip(q.skip);
    if (q.limit) cursor = cursor.limit(q.limit);
    const rows = cursor.all();
    // The total count a list answers with, as our service computes it.
    new Query(q.filter).find(docs).all().length;
    return rows.length;
  }
  return new Aggregator(q.pipeline).run(docs).length;
}

const results = {};
for (const q of queries) {
  try {
    const times = [];
    let rows = 0;
    const start = performance.now();
    do {
      const t = performance.now();
      rows = runOnce(q);
      times.push(performance.now() - t);
    } while ((performance.now() - start < budget && times.length < 20) || times.length < 3);
    times.sort((a, b) => a - b);
    results[q.name] = { ms: times[Math.floor(times.length / 2)], runs: times.length, rows };
  } catch (e) {
    results[q.name] = { error: String(e && e.message ? e.message : e) };
  }
}
console.log(JSON.stringify({ load_ms: loadMs, rss_bytes_per_document: (rssAfter - rssBefore) / docs.length, results }));

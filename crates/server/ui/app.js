// The spacejobs dashboard: counts by status, failures by day, the latest jobs (with their
// progress and errors) and a job's tasks, all from the service's own REST `list` (POST
// <base>/search) and `stat` (POST <base>/stat), with the caller's token when one is given.
// Data is only ever written into the page as text.
"use strict";

const config = document.body.dataset;
const KINDS = {
  inventory: {
    statuses: ["PENDING", "IN_PROGRESS", "SUCCESS", "FAILURE", "CANCELED"],
    failures: ["FAILURE"],
    tasks: true,
  },
  spot_automation: {
    statuses: ["CREATED", "IN_PROGRESS", "SUCCESS", "ERROR", "TIMEOUT", "CANCELED"],
    failures: ["ERROR", "TIMEOUT"],
    tasks: false,
  },
};
KINDS.power_scheduler = KINDS.spot_automation;
const kind = KINDS[config.service] || KINDS.inventory;
const $ = (id) => document.getElementById(id);
const LATEST = 15;

// What is shown: kept in the address, so a view can be shared.
const params = new URLSearchParams(location.search);
const state = {
  domain: params.get("domain_id") || localStorage.getItem("spacejobs-domain") || "",
  project: params.get("project_id") || "",
  status: params.get("status") || "",
  job: params.get("job_id") || "",
};
let token = sessionStorage.getItem("spacejobs-token") || "";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const answer = await fetch(config.base + path, { method: "POST", headers, body: JSON.stringify(body) });
  const json = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    const error = json.error || {};
    throw new ApiError(answer.status, error.code || `HTTP ${answer.status}`, error.message || answer.statusText);
  }
  return json;
}

const list = (query, extra = {}) => call("/search", { domain_id: state.domain, ...extra, query });
const stat = (query) => call("/stat", { domain_id: state.domain, query });

// Conditions every view shares: the project, and (where asked) the status.
function conditions(withStatus) {
  const out = [];
  if (state.project) out.push({ k: "project_id", v: state.project, o: "eq" });
  if (withStatus && state.status) out.push({ k: "status", v: state.status, o: "eq" });
  return out;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function when(iso) {
  return iso ? String(iso).replace("T", " ").slice(0, 16) : "";
}

function badge(status) {
  return element("span", status, `badge ${status}`);
}

function errorsCell(errors) {
  const cell = element("td", "", "errors");
  if (Array.isArray(errors) && errors.length) {
    const first = errors[0] || {};
    cell.textContent = `${errors.length} · ${first.error_code || ""} ${first.message || ""}`.trim();
  }
  return cell;
}

function progressCell(done, total) {
  const cell = element("td");
  const bar = element("span", null, "progress");
  const fill = element("span");
  fill.style.width = total > 0 ? `${Math.round((100 * done) / total)}%` : "0%";
  bar.append(fill);
  cell.append(bar, element("span", `${done}/${total}`));
  return cell;
}

function fillTable(table, headings, rows) {
  const head = table.tHead;
  head.replaceChildren();
  const tr = element("tr");
  for (const h of headings) tr.append(element("th", h));
  head.append(tr);
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
  if (!rows.length) {
    const empty = element("tr");
    const cell = element("td", "Nothing matches.", "empty");
    cell.colSpan = headings.length;
    empty.append(cell);
    body.append(empty);
  }
}

function jobLink(jobId) {
  const link = element("a", jobId);
  link.dataset.job = jobId;
  link.addEventListener("click", () => {
    state.job = jobId;
    remember();
    showJob().catch(fail);
  });
  return link;
}

async function showCounts() {
  const answer = await stat({
    filter: conditions(false),
    aggregate: [
      { group: { keys: [{ key: "status", name: "status" }], fields: [{ operator: "count", name: "count" }] } },
      { sort: { key: "status" } },
    ],
  });
  const counts = new Map(answer.results.map((r) => [r.status, r.count]));
  const total = answer.results.reduce((sum, r) => sum + r.count, 0);
  const statuses = [...new Set([...kind.statuses, ...counts.keys()])];
  const card = (status, label, count) => {
    const node = element("button", null, "card");
    node.type = "button";
    node.dataset.status = status;
    node.dataset.count = count;
    node.append(element("span", count, "count"), element("span", label, "name"));
    if (status === state.status) node.classList.add("selected");
    node.addEventListener("click", () => {
      state.status = status;
      $("status").value = status;
      refresh();
    });
    return node;
  };
  $("counts").replaceChildren(
    card("", "ALL", total),
    ...statuses.map((s) => card(s, s, counts.get(s) || 0)),
  );
}

// The days from the first to the last of `counted` (`%Y-%m-%d`), those without failures at 0.
function everyDay(counted) {
  if (!counted.length) return counted;
  const byDay = new Map(counted.map((d) => [d.day, d.failures]));
  const out = [];
  const last = Date.parse(`${counted[counted.length - 1].day}T00:00:00Z`);
  for (let t = Date.parse(`${counted[0].day}T00:00:00Z`); t <= last && out.length < 366; t += 86400000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push({ day, failures: byDay.get(day) || 0 });
  }
  return out;
}

async function showChart() {
  const answer = await stat({
    filter: [...conditions(false), { k: "status", v: kind.failures, o: "in" }],
    aggregate: [
      {
        group: {
          keys: [{ key: "created_at", name: "day", date_format: "%Y-%m-%d" }],
          fields: [{ operator: "count", name: "failures" }],
        },
      },
      { sort: { key: "day", desc: true } },
      { limit: 30 },
      { sort: { key: "day" } },
    ],
  });
  const days = everyDay(answer.results.filter((r) => r.day));
  const chart = $("chart");
  if (!days.length) {
    chart.replaceChildren(element("p", "No failures.", "empty"));
    return;
  }
  const ns = "http://www.w3.org/2000/svg";
  const width = 900, height = 180, bottom = 22, top = 14;
  const most = Math.max(...days.map((d) => d.failures));
  const step = width / days.length;
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  days.forEach((d, i) => {
    const h = ((height - bottom - top) * d.failures) / most;
    const bar = document.createElementNS(ns, "rect");
    bar.setAttribute("class", "bar");
    bar.setAttribute("x", i * step + step * 0.15);
    bar.setAttribute("y", height - bottom - h);
    bar.setAttribute("width", step * 0.7);
    bar.setAttribute("height", h);
    bar.dataset.day = d.day;
    bar.dataset.failures = d.failures;
    const title = document.createElementNS(ns, "title");
    title.textContent = `${d.day}: ${d.failures}`;
    bar.append(title);
    const value = document.createElementNS(ns, "text");
    value.setAttribute("x", i * step + step / 2);
    value.setAttribute("y", height - bottom - h - 3);
    value.setAttribute("text-anchor", "middle");
    value.textContent = d.failures || "";
    svg.append(bar, value);
    if (i % Math.ceil(days.length / 10) === 0) {
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", i * step + step / 2);
      label.setAttribute("y", height - 6);
      label.setAttribute("text-anchor", "middle");
      label.textContent = d.day.slice(5);
      svg.append(label);
    }
  });
  chart.replaceChildren(svg);
}

// The Job services list their jobs; inventory's jobs are its tasks grouped by job_id.
async function showJobs() {
  if (!kind.tasks) {
    const answer = await list({
      filter: conditions(true),
      sort: { key: "created_at", desc: true },
      page: { limit: LATEST },
    });
    const rows = answer.results.map((job) => {
      const tr = element("tr");
      const id = element("td");
      id.append(jobLink(job.job_id));
      const status = element("td");
      status.append(badge(job.status));
      const total = job.total_tasks || 0;
      tr.append(id, status, progressCell(total - (job.remained_tasks || 0), total),
        errorsCell(job.errors), element("td", job.project_id), element("td", when(job.created_at)));
      return tr;
    });
    fillTable($("jobs"), ["job", "status", "progress", "errors", "project", "created"], rows);
    return;
  }
  const count = (name, status) => ({ operator: "count", name, conditions: [{ k: "status", v: status, o: "eq" }] });
  const answer = await stat({
    filter: conditions(true),
    aggregate: [
      {
        group: {
          keys: [{ key: "job_id", name: "job_id" }],
          fields: [
            { operator: "count", name: "tasks" },
            count("pending", "PENDING"),
            count("running", "IN_PROGRESS"),
            count("failed", "FAILURE"),
            count("canceled", "CANCELED"),
            { operator: "max", key: "created_at", name: "latest" },
          ],
        },
      },
      { sort: { key: "latest", desc: true } },
      { limit: LATEST },
    ],
  });
  const rows = answer.results.map((job) => {
    const tr = element("tr");
    const id = element("td");
    id.append(jobLink(job.job_id));
    const open = job.pending + job.running;
    const status = element("td");
    status.append(badge(open ? "IN_PROGRESS" : job.failed ? "FAILURE" : job.canceled ? "CANCELED" : "SUCCESS"));
    tr.append(id, status, progressCell(job.tasks - open, job.tasks), element("td", job.failed),
      element("td", when(job.latest)));
    return tr;
  });
  fillTable($("jobs"), ["job", "status", "tasks done", "failed tasks", "latest task"], rows);
}

function taskRow(task) {
  const tr = element("tr");
  const status = element("td");
  status.append(badge(task.status));
  const job = element("td");
  job.append(jobLink(task.job_id));
  tr.append(element("td", task.job_task_id), job, status, element("td", task.provider),
    element("td", task.project_id),
    element("td", `${task.created_count || 0} / ${task.updated_count || 0} / ${task.failure_count || 0}`),
    errorsCell(task.errors), element("td", when(task.created_at)));
  return tr;
}

const TASK_HEADINGS = ["task", "job", "status", "provider", "project", "created / updated / failed", "errors", "created"];

async function showTasks() {
  if (!kind.tasks) return;
  $("tasks-section").hidden = false;
  const answer = await list({
    filter: conditions(true),
    sort: { key: "created_at", desc: true },
    page: { limit: LATEST },
  });
  fillTable($("tasks"), TASK_HEADINGS, answer.results.map(taskRow));
}

// A job: inventory shows its tasks; the Job services show the job's errors and filter.
async function showJob() {
  const section = $("detail-section");
  if (!state.job) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const detail = $("detail");
  if (kind.tasks) {
    $("detail-title").textContent = `Tasks of ${state.job}`;
    const answer = await list({ filter: [{ k: "job_id", v: state.job, o: "eq" }], sort: { key: "created_at" } });
    const table = element("table");
    table.append(element("thead"), element("tbody"));
    fillTable(table, TASK_HEADINGS, answer.results.map(taskRow));
    detail.replaceChildren(element("p", `${answer.total_count} tasks`), table);
    return;
  }
  $("detail-title").textContent = `Job ${state.job}`;
  const answer = await list({ filter: [{ k: "job_id", v: state.job, o: "eq" }] });
  const job = answer.results[0];
  if (!job) {
    detail.replaceChildren(element("p", "No such job.", "empty"));
    return;
  }
  const table = element("table");
  table.append(element("thead"), element("tbody"));
  const errors = (job.errors || []).map((e) => {
    const tr = element("tr");
    tr.append(element("td", e.error_code), element("td", e.message));
    return tr;
  });
  fillTable(table, ["error", "message"], errors);
  detail.replaceChildren(
    element("p", `${job.status} · ${job.total_tasks - job.remained_tasks}/${job.total_tasks} tasks done · filter ${JSON.stringify(job.filter || {})}`),
    table,
  );
}

async function showProjects() {
  const answer = await stat({ distinct: "project_id" });
  const select = $("project");
  const options = answer.results.filter((p) => p).map((p) => {
    const option = element("option", p);
    option.value = p;
    return option;
  });
  select.replaceChildren(select.options[0], ...options);
  select.value = state.project;
}

function remember() {
  const next = new URLSearchParams();
  for (const [key, value] of [["domain_id", state.domain], ["project_id", state.project],
    ["status", state.status], ["job_id", state.job]]) {
    if (value) next.set(key, value);
  }
  history.replaceState(null, "", `${location.pathname}?${next}`);
  if (state.domain) localStorage.setItem("spacejobs-domain", state.domain);
}

function message(text) {
  const node = $("message");
  node.textContent = text || "";
  node.hidden = !text;
}

function fail(error) {
  document.body.dataset.state = "error";
  if (error instanceof ApiError && error.status === 401) {
    message("This service asks for a token: paste one under Token and choose Use.");
    $("token").focus();
  } else if (error instanceof ApiError) {
    message(`${error.code}: ${error.message}`);
  } else {
    message(String(error));
  }
}

let generation = 0;
async function refresh() {
  remember();
  if (!state.domain) {
    document.body.dataset.state = "idle";
    message("Choose a domain to show its jobs.");
    $("domain").focus();
    return;
  }
  const mine = ++generation;
  document.body.dataset.state = "loading";
  message("");
  try {
    await Promise.all([showProjects(), showCounts(), showChart(), showJobs(), showTasks(), showJob()]);
    if (mine === generation) document.body.dataset.state = "ready";
  } catch (error) {
    if (mine === generation) fail(error);
  }
}

function start() {
  for (const status of kind.statuses) {
    const option = element("option", status);
    option.value = status;
    $("status").append(option);
  }
  $("domain").value = state.domain;
  $("status").value = state.status;
  $("token").value = token;
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    if (state.domain !== $("domain").value.trim()) state.job = "";
    state.domain = $("domain").value.trim();
    state.project = $("project").value;
    state.status = $("status").value;
    refresh();
  });
  for (const id of ["project", "status"]) {
    $(id).addEventListener("change", () => $("filters").requestSubmit());
  }
  $("auth").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    if (token) sessionStorage.setItem("spacejobs-token", token);
    else sessionStorage.removeItem("spacejobs-token");
    refresh();
  });
  refresh();
}

start();

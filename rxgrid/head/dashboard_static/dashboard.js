// rxgrid dashboard: polls the head's JSON API about once a second and redraws.
// Every value from the head goes into the page as text (never as HTML): job names, error
// messages and task output are written by users.
"use strict";

const POLL_MS = 1000;
const HIDDEN_POLL_MS = 5000;
let selected = selectedFromLocation();
let lastJob = null;          // the selected job's last JSON, to skip redraws that change nothing
let jobDetailDone = null;    // id of a finished job whose detail needs no more polling
let pollTimer = null;

// ------------------------------------------------------------------ helpers
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "onclick") el.addEventListener("click", v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fill(el, children) { el.replaceChildren(...children); }

function duration(s) {
  if (!(s >= 0)) return "";
  if (s < 10) return s.toFixed(1) + " s";
  if (s < 60) return Math.round(s) + " s";
  if (s < 3600) return Math.floor(s / 60) + " m " + Math.round(s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.round((s % 3600) / 60) + " m";
  return Math.floor(s / 86400) + " d " + Math.round((s % 86400) / 3600) + " h";
}

function ago(t, now) { return t ? duration(Math.max(0, now - t)) + " ago" : "—"; }
function clock(t) { return t ? new Date(t * 1000).toLocaleString() : "—"; }
function runTime(job, now) {
  if (!job.started_at) return "";
  return duration((job.finished_at || now) - job.started_at);
}

function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

function badge(state) { return h("span", {class: "badge " + state}, state); }

function progressBar(job, big) {
  const total = job.tasks_total || 0;
  const pct = n => (total ? (100 * n / total) : 0) + "%";
  const done = h("span", {class: "done"}), failed = h("span", {class: "failed"});
  done.style.width = pct(job.tasks_done);
  failed.style.width = pct(job.tasks_failed);
  const bar = h("div", {
    class: "progress" + (big ? " big" : "") + (job.active ? " active" : ""),
    role: "progressbar", "aria-valuemin": 0, "aria-valuemax": total,
    "aria-valuenow": job.tasks_done + job.tasks_failed,
    "aria-label": "tasks of job " + job.job_id,
  }, done, failed);
  const label = job.tasks_done + " done" + (job.tasks_failed ? " · " + job.tasks_failed + " failed" : "")
    + " / " + total;
  return h("div", {}, bar, h("div", {class: "progress-label"}, label));
}

function cancelButton(job) {
  // Two clicks: the first arms the button for three seconds, the second cancels.
  const b = h("button", {class: "danger", "data-job": job.job_id}, "Cancel");
  b.addEventListener("click", async ev => {
    ev.stopPropagation();
    if (!b.classList.contains("confirm")) {
      b.classList.add("confirm");
      b.textContent = "Confirm";
      setTimeout(() => { b.classList.remove("confirm"); b.textContent = "Cancel"; }, 3000);
      return;
    }
    b.disabled = true;
    await cancelJob(job.job_id);
  });
  return b;
}

async function api(path, options) {
  const r = await fetch(path, Object.assign({credentials: "same-origin", cache: "no-store"}, options));
  if (r.status === 401) throw Object.assign(new Error("not authorized"), {status: 401});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw Object.assign(new Error(body.error || r.statusText), {status: r.status});
  return body;
}

async function cancelJob(id) {
  try {
    await api("/api/jobs/" + encodeURIComponent(id) + "/cancel", {method: "POST", headers: {"X-Rxgrid": "1"}});
    jobDetailDone = null;
    schedule(0);
  } catch (e) {
    notice("Could not cancel " + id + ": " + e.message);
  }
}

function notice(message) {
  const n = document.getElementById("notice");
  n.hidden = !message;
  n.textContent = message || "";
}

// ------------------------------------------------------------------ selection
function selectedFromLocation() {
  const m = location.hash.match(/job=([^&]+)/);
  if (m) return decodeURIComponent(m[1]);
  const p = location.pathname.match(/^\/job\/([^/]+)$/);
  return p ? decodeURIComponent(p[1]) : null;
}

function select(id) {
  selected = id;
  lastJob = null;
  jobDetailDone = null;
  if (id) {
    history.replaceState(null, "", "/#job=" + encodeURIComponent(id));
  } else {
    history.replaceState(null, "", "/");
  }
  document.getElementById("job-panel").hidden = !id;
  for (const tr of document.querySelectorAll("#jobs tbody tr")) {
    tr.classList.toggle("selected", tr.dataset.job === id);
  }
  schedule(0);
  if (id) window.scrollTo({top: 0, behavior: "smooth"});
}

// ------------------------------------------------------------------ drawing
function drawSummary(c) {
  const n = c.counts;
  const stat = (value, label) => h("div", {class: "stat"}, h("b", {}, value), h("span", {}, label));
  fill(document.getElementById("summary"), [
    stat(n.workers, "workers"),
    stat(n.busy + " / " + n.slots, "slots busy"),
    stat(n.queued_tasks, "tasks queued"),
    stat(n.active_jobs, "active jobs"),
    stat(n.tasks_finished, "tasks finished"),
    stat(n.tasks_failed, "tasks failed"),
  ]);
}

function drawWorkers(c) {
  const running = {};
  for (const r of c.running) (running[r.worker] = running[r.worker] || []).push(r);
  const rows = c.workers.map(w => {
    const slots = [];
    for (let i = 0; i < w.cores; i++) slots.push(h("span", {class: "slot" + (i < w.busy ? " busy" : "")}));
    const age = w.heartbeat_age;
    const ageClass = age < 3 * c.heartbeat_interval ? "ok" : age < c.lease_timeout ? "late" : "lost";
    const chunks = (running[w.name] || []).map(r =>
      h("div", {class: "mono nowrap"}, h("a", {href: "#job=" + encodeURIComponent(r.job_id)}, r.job_id),
        " #" + r.chunk));
    return h("tr", {"data-worker": w.name},
      h("td", {class: "nowrap"}, h("b", {}, w.name), w.state !== "connected" ? h("div", {class: "sub"}, w.state) : null),
      h("td", {class: "nowrap"}, w.host, w.pid ? h("div", {class: "sub"}, "pid " + w.pid) : null),
      h("td", {class: "num"}, w.cores),
      h("td", {}, h("div", {class: "slots", title: w.busy + " of " + w.cores + " busy"}, slots),
        h("div", {class: "sub"}, w.busy + " / " + w.cores)),
      h("td", {}, chunks.length ? chunks : h("span", {class: "sub"}, "idle")),
      h("td", {class: "num"}, w.chunks_done),
      h("td", {class: "num"}, h("span", {class: "age " + ageClass, title: clock(w.last_heartbeat)},
        w.last_heartbeat ? duration(age) + " ago" : "—")));
  });
  fill(document.querySelector("#workers tbody"),
    rows.length ? rows : [h("tr", {}, h("td", {colspan: 7, class: "empty"}, "No workers connected"))]);
}

function drawQueue(c) {
  const rows = c.queue.map(q => h("tr", {},
    h("td", {}, h("a", {class: "jobid", href: "#job=" + encodeURIComponent(q.job_id)}, q.job_id),
      q.name ? h("div", {class: "sub"}, q.name) : null),
    h("td", {class: "num"}, q.chunk),
    h("td", {}, plural(q.count, "task"),
      h("div", {class: "sub"}, q.first + "–" + (q.first + q.count - 1) + (q.pinned ? " · on " + q.pinned : ""))),
    h("td", {class: "num"}, q.priority)));
  const n = c.counts.queued_chunks;
  if (n > c.queue.length) rows.push(h("tr", {}, h("td", {colspan: 4, class: "more"}, "… " + (n - c.queue.length) + " more")));
  document.getElementById("queue-count").textContent =
    n ? plural(n, "chunk") + " · " + plural(c.counts.queued_tasks, "task") : "";
  fill(document.querySelector("#queue tbody"),
    rows.length ? rows : [h("tr", {}, h("td", {colspan: 4, class: "empty"}, "Nothing waiting"))]);
}

function drawJobs(data) {
  const jobs = data.jobs.slice().reverse();  // newest first
  const rows = jobs.map(j => {
    const tr = h("tr", {"data-job": j.job_id, class: j.job_id === selected ? "selected" : null},
      h("td", {}, h("a", {class: "jobid", href: "#job=" + encodeURIComponent(j.job_id)}, j.job_id),
        h("div", {class: "sub"}, j.name || "")),
      h("td", {}, j.owner || "—"),
      h("td", {}, badge(j.state)),
      h("td", {class: "num"}, j.priority),
      h("td", {}, progressBar(j, false)),
      h("td", {title: clock(j.submitted_at)}, ago(j.submitted_at, data.now)),
      h("td", {class: "num"}, runTime(j, data.now)),
      h("td", {class: "num"}, j.active ? cancelButton(j) : null));
    tr.addEventListener("click", ev => { if (!ev.target.closest("a,button")) select(j.job_id); });
    return tr;
  });
  document.getElementById("jobs-count").textContent = jobs.length ? String(jobs.length) : "";
  fill(document.querySelector("#jobs tbody"),
    rows.length ? rows : [h("tr", {}, h("td", {colspan: 8, class: "empty"}, "No jobs yet"))]);
}

function drawJob(d) {
  const j = d.job, now = d.now;
  document.getElementById("job-title").replaceChildren(h("span", {class: "jobid"}, j.job_id),
    j.name ? h("span", {class: "sub"}, "  " + j.name) : "");
  fill(document.getElementById("job-state"), [badge(j.state)]);
  const cancel = document.getElementById("job-cancel");
  cancel.hidden = !j.active;
  cancel.disabled = false;
  cancel.dataset.job = j.job_id;
  fill(document.getElementById("job-progress"), [progressBar(j, true)]);
  const elapsed = j.started_at ? (j.finished_at || now) - j.started_at : 0;
  const ended = j.tasks_done + j.tasks_failed;
  const rate = elapsed > 0 ? ended / elapsed : 0;
  const facts = [
    ["Owner", j.owner || "—"], ["Priority", j.priority], ["Tasks", j.tasks_total], ["Chunks", j.chunks_done + " / " + j.chunks_total],
    ["Submitted", clock(j.submitted_at)], ["Started", clock(j.started_at)],
    ["Finished", clock(j.finished_at)], ["Run time", runTime(j, now) || "—"],
    ["Rate", rate ? rate.toFixed(rate < 10 ? 2 : 0) + " tasks/s" : "—"],
  ];
  if (j.active && rate) facts.push(["ETA", duration((j.tasks_total - ended) / rate)]);
  if (j.seed !== null) facts.push(["Seed", j.seed + " (" + j.rng_kind + ")"]);
  if (j.error) facts.push(["Note", j.error]);
  fill(document.getElementById("job-facts"), facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

function openKeys(container) {
  return new Set([...container.querySelectorAll("details[open]")].map(d => d.dataset.key));
}

function drawErrors(d) {
  const box = document.getElementById("job-errors");
  const open = openKeys(box);
  document.getElementById("job-errors-count").textContent = d.errors_total ? String(d.errors_total) : "";
  const items = d.errors.map((e, i) => {
    const key = e.task + ":" + i;
    return h("details", {"data-key": key, open: open.has(key) || (d.errors.length === 1 && !lastJob)},
      h("summary", {}, h("span", {class: "mono"}, "task " + e.task), " · ",
        h("span", {class: "etype"}, e.type), ": " + e.message,
        e.worker ? h("span", {class: "sub"}, "  on " + e.worker) : null),
      h("pre", {}, e.traceback || e.type + ": " + e.message));
  });
  if (d.errors_total > d.errors.length) items.push(h("div", {class: "more"}, "… " + (d.errors_total - d.errors.length) + " more"));
  fill(box, items.length ? items : [h("div", {class: "none"}, "No task failed.")]);
}

function drawLogs(d) {
  const box = document.getElementById("job-logs");
  const open = openKeys(box);
  document.getElementById("job-logs-count").textContent = d.logs_total ? String(d.logs_total) : "";
  if (!d.logs_available || !d.logs.length) {
    fill(box, [h("div", {class: "none"}, d.logs_available
      ? "No task printed anything (output is kept when the job runs with console_output=True)."
      : "This head does not keep task output.")]);
    return;
  }
  const items = d.logs.map(o => {
    const key = String(o.task);
    const parts = [];
    if (o.stdout) parts.push(h("div", {class: "stream"}, "stdout"), h("pre", {class: "stdout"}, o.stdout));
    if (o.stderr) parts.push(h("div", {class: "stream"}, "stderr"), h("pre", {class: "stderr"}, o.stderr));
    const lines = (o.stdout + o.stderr).split("\n").filter(Boolean).length;
    return h("details", {"data-key": key, open: open.has(key) || d.logs.length <= 3},
      h("summary", {}, h("span", {class: "mono"}, "task " + o.task), h("span", {class: "sub"}, "  " + plural(lines, "line"))),
      parts);
  });
  if (d.logs_total > d.logs.length) items.push(h("div", {class: "more"}, "… " + (d.logs_total - d.logs.length) + " more"));
  fill(box, items);
}

// ------------------------------------------------------------------ polling
function setStatus(cls, message) {
  const s = document.getElementById("status");
  s.className = "status " + cls;
  s.textContent = message;
}

async function refreshJob() {
  if (!selected || jobDetailDone === selected) return;
  const id = selected;
  try {
    const d = await api("/api/jobs/" + encodeURIComponent(id));
    if (id !== selected) return;
    document.getElementById("job-panel").hidden = false;
    drawJob(d);
    const detail = JSON.stringify([d.errors, d.logs, d.logs_available]);
    if (!lastJob || lastJob !== detail) { drawErrors(d); drawLogs(d); }
    lastJob = detail;
    if (!d.job.active) jobDetailDone = id;  // a finished job no longer changes
  } catch (e) {
    if (e.status === 404) { notice("No job " + id + " on this head."); select(null); } else throw e;
  }
}

async function tick() {
  pollTimer = null;
  try {
    const [c, jobs] = await Promise.all([api("/api/cluster"), api("/api/jobs?limit=100"), refreshJob()]);
    drawSummary(c);
    drawWorkers(c);
    drawQueue(c);
    drawJobs(jobs);
    setStatus("live", "live · " + new Date().toLocaleTimeString());
    if (document.getElementById("notice").textContent.startsWith("Not authorized")) notice("");
  } catch (e) {
    if (e.status === 401) {
      notice("Not authorized: open this page once as /?token=YOUR_CLIENT_TOKEN (it then sets a cookie).");
      setStatus("down", "not authorized");
    } else {
      setStatus("down", "head unreachable · retrying");
    }
  }
  schedule(document.hidden ? HIDDEN_POLL_MS : POLL_MS);
}

function schedule(ms) {
  if (pollTimer !== null) clearTimeout(pollTimer);
  pollTimer = setTimeout(tick, ms);
}

window.addEventListener("hashchange", () => { const id = selectedFromLocation(); if (id !== selected) select(id); });
document.getElementById("job-close").addEventListener("click", () => select(null));
document.getElementById("job-cancel").addEventListener("click", async ev => {
  const b = ev.currentTarget;
  if (!b.classList.contains("confirm")) {
    b.classList.add("confirm");
    b.textContent = "Confirm cancel";
    setTimeout(() => { b.classList.remove("confirm"); b.textContent = "Cancel job"; }, 3000);
    return;
  }
  b.disabled = true;
  b.classList.remove("confirm");
  b.textContent = "Cancel job";
  jobDetailDone = null;
  await cancelJob(b.dataset.job);
});
document.addEventListener("visibilitychange", () => { if (!document.hidden) schedule(0); });
if (selected) document.getElementById("job-panel").hidden = false;
tick();

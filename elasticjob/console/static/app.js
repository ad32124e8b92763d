// The ElasticJob console: one page, hash routes (#/, #/jobs, #/jobs/NAME, #/jobs/NAME/runs/RUN, #/apps),
// built with Preact and htm (vendor/), talking only to the public REST API (api.js).
import { html, render, useCallback, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { api, ApiError, followLog, seg } from "./api.js";
import { t } from "./texts.js";

const REFRESH_MS = 5000;

// ---- routing --------------------------------------------------------------------------------------
function currentRoute() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return parts;
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

const href = (...parts) => "#/" + parts.map(encodeURIComponent).join("/");

// ---- data loading ---------------------------------------------------------------------------------
/** ``load()``'s result, reloaded every ``every`` ms (0: once) and by ``reload()``. */
function useData(load, deps, every = 0) {
  const [state, setState] = useState({ loading: true, error: null, data: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ loading: false, error: null, data }),
      (error) => live && setState((old) => ({ loading: false, error, data: old.data })),
    );
    const timer = every ? setTimeout(() => setTick((n) => n + 1), every) : null;
    return () => { live = false; if (timer) clearTimeout(timer); };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((n) => n + 1) };
}

function Loading({ state, children }) {
  if (state.error && !state.data) {
    return html`<p class="error" role="alert">${state.error.message}
      <button class="secondary outline" onClick=${state.reload}>${t("retry")}</button></p>`;
  }
  if (state.loading && !state.data) return html`<p aria-busy="true">${t("loading")}</p>`;
  return children(state.data);
}

// ---- layout ---------------------------------------------------------------------------------------
function Nav({ route }) {
  const here = route[0] || "";
  const link = (target, label) =>
    html`<li><a href=${href(target)} aria-current=${here === target ? "page" : undefined}>${label}</a></li>`;
  return html`<nav class="top container">
    <ul><li><strong>${t("title")}</strong></li></ul>
    <ul>${link("", t("dashboard"))}${link("jobs", t("jobs"))}${link("apps", t("apps"))}</ul>
  </nav>`;
}

function Notice({ notice }) {
  if (!notice) return null;
  return html`<p role="status" class=${notice.error ? "error" : ""}>${notice.text}</p>`;
}

function errorText(error) {
  const details = (error.details || []).map((d) => `${d.path}: ${(d.errors || []).join(", ")}`);
  return [error.message, ...details].join(" — ");
}

// ---- dashboard ------------------------------------------------------------------------------------
function Dashboard() {
  const state = useData(async () => {
    const [leader, running, ready, failover, jobs, apps] = await Promise.all([
      api.get("/leader").catch((e) => ({ error: e.message })),
      api.get("/job/tasks/running"), api.get("/job/tasks/ready"), api.get("/job/tasks/failover"),
      api.get("/job/jobs"), api.get("/app/list"),
    ]);
    return { leader, running, ready, failover, jobs, apps };
  }, [], REFRESH_MS);
  return html`<section><h2>${t("dashboard")}</h2>
    <${Loading} state=${state}>${(d) => html`
      <p>${t("leader")}: <strong data-testid="leader">${d.leader.leader || d.leader.error}</strong></p>
      <div class="cards">
        ${[["runningTasks", d.running.length], ["readyFirings", d.ready.length],
           ["failoverShards", d.failover.length], ["registeredJobs", d.jobs.length],
           ["registeredApps", d.apps.length]].map(([key, value]) => html`
          <article data-testid=${key}><div class="figure">${value}</div><small>${t(key)}</small></article>`)}
      </div>`}
    <//></section>`;
}

// ---- jobs -----------------------------------------------------------------------------------------
const PAGE_SIZE = 50;

function SortableTable({ columns, rows, rowKey, onRow }) {
  const [sort, setSort] = useState({ key: columns[0].key, asc: true });
  const sorted = [...rows].sort((a, b) => {
    const x = columns.find((c) => c.key === sort.key).value(a);
    const y = columns.find((c) => c.key === sort.key).value(b);
    return (x < y ? -1 : x > y ? 1 : 0) * (sort.asc ? 1 : -1);
  });
  const header = (c) => html`<th data-sort=${c.key} tabindex="0" scope="col"
      aria-sort=${sort.key === c.key ? (sort.asc ? "ascending" : "descending") : "none"}
      onClick=${() => setSort({ key: c.key, asc: sort.key === c.key ? !sort.asc : true })}
      onKeyDown=${(e) => e.key === "Enter" && setSort({ key: c.key, asc: sort.key === c.key ? !sort.asc : true })}
    >${c.label}${sort.key === c.key ? (sort.asc ? " ▲" : " ▼") : ""}</th>`;
  return html`<div class="overflow-auto"><table class="striped">
    <thead><tr>${columns.map(header)}</tr></thead>
    <tbody>${sorted.map((row) => html`<tr key=${rowKey(row)} onClick=${onRow && (() => onRow(row))}>
      ${columns.map((c) => html`<td>${c.render ? c.render(row) : c.value(row)}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}

function Jobs() {
  const [page, setPage] = useState(1);
  const [filter, setFilter] = useState("");
  const state = useData(() => api.get("/job/jobs", { page, per_page: PAGE_SIZE }), [page], REFRESH_MS);
  const columns = [
    { key: "name", label: t("name"), value: (j) => j.jobName,
      render: (j) => html`<a href=${href("jobs", j.jobName)}>${j.jobName}</a>` },
    { key: "app", label: t("app"), value: (j) => j.appName || "" },
    { key: "cron", label: t("cron"), value: (j) => j.cron || "" },
    { key: "shards", label: t("shards"), value: (j) => j.shardingTotalCount },
    { key: "type", label: t("type"), value: (j) => `${j.jobType || ""} ${j.jobExecutionType || ""}` },
  ];
  return html`<section><h2>${t("jobs")}</h2>
    <input type="search" placeholder=${t("filter")} aria-label=${t("filter")} value=${filter}
      onInput=${(e) => setFilter(e.target.value)} />
    <${Loading} state=${state}>${(jobs) => {
      const shown = jobs.filter((j) => j.jobName.toLowerCase().includes(filter.toLowerCase()));
      return html`${shown.length ? html`<${SortableTable} columns=${columns} rows=${shown} rowKey=${(j) => j.jobName} />`
                                 : html`<p>${t("empty")}</p>`}
        <div class="pager">
          <button class="secondary" disabled=${page <= 1} onClick=${() => setPage(page - 1)}>${t("previous")}</button>
          <span>${t("page")} ${page}</span>
          <button class="secondary" disabled=${jobs.length < PAGE_SIZE} onClick=${() => setPage(page + 1)}>${t("next")}</button>
        </div>`;
    }}<//></section>`;
}

function seconds(run) {
  const start = run.startedAt || run.createdAt;
  if (!start) return "";
  const end = run.finishedAt ? new Date(run.finishedAt) : new Date();
  return `${Math.max(0, Math.round((end - new Date(start)) / 1000))} s`;
}

function JobDetail({ name, runId }) {
  const [notice, setNotice] = useState(null);
  const job = useData(() => api.get(`/job/jobs/${seg(name)}`), [name], REFRESH_MS);
  const disabled = useData(() => api.get(`/job/${seg(name)}/disable`), [name], REFRESH_MS);
  const runs = useData(() => api.get(`/job/jobs/${seg(name)}/runs`, { per_page: 20 }), [name], 2000);
  const act = async (action, done) => {
    try {
      await action();
      setNotice({ text: done });
      job.reload(); disabled.reload(); runs.reload();
    } catch (error) {
      setNotice({ text: errorText(error), error: true });
    }
  };
  const runNow = () => act(() => api.post("/job/trigger", { json: { jobName: name } }), t("triggered"));
  const toggle = () => act(() => api.post(`/job/${seg(name)}/${disabled.data ? "enable" : "disable"}`),
                           disabled.data ? t("enabled") : t("disabled"));
  const remove = () => {
    if (!window.confirm(t("confirmRemove", { name }))) return;
    act(() => api.delete("/job/deregister", { text: name }), t("removed")).then(() => { window.location.hash = href("jobs"); });
  };
  return html`<section>
    <p><a href=${href("jobs")}>← ${t("jobs")}</a></p>
    <h2>${name} <small data-testid="job-state">${disabled.data ? t("disabled") : t("enabled")}</small></h2>
    <div class="actions">
      <button onClick=${runNow}>${t("runNow")}</button>
      <button class="secondary" onClick=${toggle}>${disabled.data ? t("enable") : t("disable")}</button>
      <button class="contrast outline" onClick=${remove}>${t("remove")}</button>
    </div>
    <${Notice} notice=${notice} />
    ${runId ? html`<${RunDetail} name=${name} runId=${runId} onNotice=${setNotice} />` : html`
      <h3>${t("runs")}</h3>
      <${Loading} state=${runs}>${(page) => page.runs.length ? html`<${SortableTable}
        rows=${page.runs} rowKey=${(r) => r.runId}
        columns=${[
          { key: "created", label: t("created"), value: (r) => r.createdAt,
            render: (r) => html`<a href=${href("jobs", name, "runs", r.runId)}>${new Date(r.createdAt).toLocaleString()}</a>` },
          { key: "status", label: t("status"), value: (r) => r.status,
            render: (r) => html`<span class=${"status-" + r.status} data-testid="run-status">${r.status}</span>` },
          { key: "cause", label: t("cause"), value: (r) => r.cause },
          { key: "duration", label: t("duration"), value: (r) => seconds(r) },
          { key: "run", label: t("run"), value: (r) => r.runId },
        ]} />` : html`<p>${t("noRuns")}</p>`}<//>`}
    <h3>${t("configuration")}</h3>
    <${Loading} state=${job}>${(config) => html`<pre data-testid="job-config">${JSON.stringify(config, null, 2)}</pre>`}<//>
  </section>`;
}

function RunDetail({ name, runId, onNotice }) {
  const run = useData(() => api.get(`/job/jobs/${seg(name)}/runs/${seg(runId)}`), [name, runId], 2000);
  const [taskId, setTaskId] = useState(null);
  const stop = async () => {
    try {
      await api.post(`/job/jobs/${seg(name)}/runs/${seg(runId)}/stop`);
      onNotice({ text: t("stopped") });
      run.reload();
    } catch (error) { onNotice({ text: errorText(error), error: true }); }
  };
  return html`<${Loading} state=${run}>${(r) => html`
    <h3>${t("run")} ${r.runId}: <span class=${"status-" + r.status} data-testid="run-status">${r.status}</span>${" "}
      <small>${r.cause}${r.reason ? " — " + r.reason : ""}</small></h3>
    <p><a href=${href("jobs", name)}>← ${t("runs")}</a></p>
    ${["SUCCESS", "FAILED"].includes(r.status) ? null : html`<button class="contrast" onClick=${stop}>${t("stopRun")}</button>`}
    <h4>${t("tasks")}</h4>
    <${SortableTable} rows=${r.tasks.filter((task) => task.shardingItem !== null)} rowKey=${(task) => task.taskId}
      onRow=${(task) => setTaskId(task.taskId)}
      columns=${[
        { key: "shard", label: t("shard"), value: (task) => task.shardingItem,
          render: (task) => html`<a href="javascript:void 0" onClick=${() => setTaskId(task.taskId)}>${t("shard")} ${task.shardingItem}</a>` },
        { key: "state", label: t("state"), value: (task) => task.state,
          render: (task) => html`<span class=${"state-" + task.state}>${task.state}</span>` },
        { key: "agent", label: t("agent"), value: (task) => task.hostname || task.agentId },
        { key: "exit", label: t("exitCode"), value: (task) => task.exitCode ?? "" },
      ]} />
    ${taskId ? html`<${LogView} key=${taskId} taskId=${taskId} />` : null}`}<//>`;
}

function LogView({ taskId }) {
  const [stream, setStream] = useState("stdout");
  const [lines, setLines] = useState(null);
  const [error, setError] = useState(null);
  const [following, setFollowing] = useState(false);
  const abort = useRef(null);
  const load = useCallback(async () => {
    try {
      const page = await api.get(`/job/tasks/${seg(taskId)}/logs`, { stream, from: -500 });
      setLines(page.lines); setError(null);
    } catch (e) { setError(e); }
  }, [taskId, stream]);
  useEffect(() => { load(); return () => abort.current && abort.current.abort(); }, [load]);
  const follow = async () => {
    if (following) { abort.current.abort(); return; }
    abort.current = new AbortController();
    setFollowing(true); setLines([]);
    try {
      await followLog(taskId, stream, (line) => setLines((old) => [...(old || []), line]), abort.current.signal);
    } catch (e) { if (e.name !== "AbortError") setError(e); }
    setFollowing(false);
  };
  return html`<article>
    <header class="actions"><strong>${t("log")}: ${taskId}</strong>
      <select aria-label=${t("log")} value=${stream} onChange=${(e) => setStream(e.target.value)}>
        <option value="stdout">${t("stdout")}</option><option value="stderr">${t("stderr")}</option></select>
      <button class="secondary outline" onClick=${follow}>${following ? t("stopFollowing") : t("follow")}</button>
    </header>
    ${error ? html`<p class="error" role="alert">${error.message}</p>` : null}
    ${lines === null ? html`<p aria-busy="true">${t("loading")}</p>` : lines.length === 0 ? html`<p>${t("noLines")}</p>` :
      html`<pre class="log" data-testid="log">${lines.map((l) => html`<div><span class="time">${new Date(l.time * 1000).toLocaleTimeString()}</span>${l.message}</div>`)}</pre>`}
  </article>`;
}

// ---- apps -----------------------------------------------------------------------------------------
function Apps() {
  const state = useData(() => api.get("/app/list"), [], REFRESH_MS);
  return html`<section><h2>${t("apps")}</h2>
    <${Loading} state=${state}>${(apps) => apps.length ? html`<${SortableTable} rows=${apps} rowKey=${(a) => a.appName}
      columns=${[
        { key: "name", label: t("name"), value: (a) => a.appName },
        { key: "url", label: "appURL", value: (a) => a.appURL },
        { key: "cpu", label: "CPU", value: (a) => a.cpuCount },
        { key: "mem", label: "MB", value: (a) => a.memoryMB },
      ]} />` : html`<p>${t("empty")}</p>`}<//></section>`;
}

// ---- the page -------------------------------------------------------------------------------------
function Console() {
  const route = useRoute();
  let view;
  if (route[0] === "jobs" && route[1]) view = html`<${JobDetail} key=${route[1]} name=${route[1]} runId=${route[2] === "runs" ? route[3] : null} />`;
  else if (route[0] === "jobs") view = html`<${Jobs} />`;
  else if (route[0] === "apps") view = html`<${Apps} />`;
  else view = html`<${Dashboard} />`;
  return html`<${Nav} route=${route} /><main class="container">${view}</main>`;
}

render(html`<${Console} />`, document.getElementById("app"));
export { ApiError };

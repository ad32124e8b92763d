// Jobs: the list (GET /job/summaries: filtered, sorted and paged by the master), a job's detail
// (configuration, schedule and its next firings, shards with their current task, runs), a run's tasks and
// their logs, and the daily actions: run now (with this run's environment), edit, enable/disable, delete,
// stop a run.
import { html, useEffect, useRef, useState } from "../vendor/preact-htm.js";
import { api, followLog, seg } from "../api.js";
import { t } from "../texts.js";
import {
  Empty, Loading, Notice, Pager, REFRESH_MS, Status, Table, duration, errorText, go, href, useConfirm, useData,
  when,
} from "../ui.js";
import { KeyValues } from "./forms.js";
import { can } from "../session.js";

const PAGE_SIZE = 25;

export function Jobs() {
  const [query, setQuery] = useState({ q: "", app: "", state: "", page: 1, sort: { key: "name", asc: true } });
  const set = (change) => setQuery({ ...query, page: 1, ...change });
  const apps = useData(async () => (await api.get("/app/list")).map((a) => a.appName), []);
  const jobs = useData(() => api.get("/job/summaries", {
    q: query.q, app: query.app, state: query.state, page: query.page, per_page: PAGE_SIZE,
    sort: (query.sort.asc ? "" : "-") + query.sort.key,
  }), [JSON.stringify(query)], REFRESH_MS);
  const columns = [
    { key: "name", label: t("name"), value: (j) => j.jobName,
      render: (j) => html`<a href=${href("jobs", j.jobName)}>${j.jobName}</a>` },
    { key: "app", label: t("app"), value: (j) => j.appName,
      render: (j) => html`<a href=${href("apps", j.appName)}>${j.appName}</a>` },
    { key: "group", label: t("group"), value: (j) => j.group, sortable: false },
    { key: "cron", label: t("cron"), value: (j) => j.cron || t("noSchedule") },
    { key: "shards", label: t("shards"), value: (j) => j.shardingTotalCount, sortable: false },
    { key: "type", label: t("type"), value: (j) => j.jobExecutionType || "" },
    { key: "state", label: t("state"), value: (j) => (j.disabled ? t("disabled") : t("enabled")),
      render: (j) => html`<span class=${j.disabled ? "muted" : "ok"}>${j.error ? t("invalid") : j.disabled ? t("disabled") : t("enabled")}</span>` },
  ];
  return html`<section>
    <div class="title-row"><h2>${t("jobs")}</h2>
      ${can("admin") ? html`<a role="button" href=${href("jobs", "new")} data-testid="new-job">${t("newJob")}</a>` : null}</div>
    <div class="filters" role="search">
      <input type="search" placeholder=${t("filter")} aria-label=${t("filter")} value=${query.q}
        onInput=${(e) => set({ q: e.target.value })} />
      <select aria-label=${t("app")} value=${query.app} onChange=${(e) => set({ app: e.target.value })}>
        <option value="">${t("allApps")}</option>
        ${(apps.data || []).map((a) => html`<option value=${a}>${a}</option>`)}
      </select>
      <select aria-label=${t("state")} value=${query.state} onChange=${(e) => set({ state: e.target.value })}>
        <option value="">${t("allStates")}</option><option value="enabled">${t("enabled")}</option>
        <option value="disabled">${t("disabled")}</option>
      </select>
    </div>
    <${Loading} state=${jobs}>${(page) => html`
      ${page.jobs.length ? html`<${Table} columns=${columns} rows=${page.jobs} rowKey=${(j) => j.jobName}
          sort=${query.sort} onSort=${(sort) => set({ sort })} testid="jobs" />`
        : html`<${Empty} text=${query.q || query.app || query.state ? t("noMatch") : t("noJobs")} />`}
      <${Pager} page=${query.page} total=${page.total} perPage=${PAGE_SIZE} onPage=${(p) => setQuery({ ...query, page: p })} />`}<//>
  </section>`;
}

/** Run now, with environment variables and a job parameter for this run only. */
function RunNow({ name, onDone, onCancel }) {
  const [environment, setEnvironment] = useState({});
  const [parameter, setParameter] = useState("");
  const start = (e) => {
    e.preventDefault();
    const json = { jobName: name, environment };
    if (parameter) json.jobParameter = parameter;
    onDone(() => api.post("/job/trigger", { json }));
  };
  return html`<form class="panel" onSubmit=${start} data-testid="run-now-form">
    <label for="run-env">${t("runEnvironment")}</label>
    <${KeyValues} id="run-env" value=${environment} onChange=${setEnvironment} />
    <label for="run-parameter">${t("field.jobParameter")}</label>
    <input id="run-parameter" value=${parameter} onInput=${(e) => setParameter(e.target.value)} />
    <div class="actions"><button type="submit">${t("startRun")}</button>
      <button type="button" class="secondary" onClick=${onCancel}>${t("cancel")}</button></div>
  </form>`;
}

export function JobDetail({ name, runId }) {
  const [notice, setNotice] = useState(null);
  const [running, setRunning] = useState(false);
  const [confirming, ask] = useConfirm();
  const job = useData(() => api.get(`/job/jobs/${seg(name)}`), [name], REFRESH_MS);
  const disabled = useData(() => api.get(`/job/${seg(name)}/disable`), [name], REFRESH_MS);
  const act = async (action, done) => {
    try {
      await action();
      setNotice({ text: done });
      job.reload(); disabled.reload();
      return true;
    } catch (error) {
      setNotice({ text: errorText(error), error: true });
      return false;
    }
  };
  const toggle = () => act(() => api.post(`/job/${seg(name)}/${disabled.data ? "enable" : "disable"}`),
                           disabled.data ? t("nowEnabled") : t("nowDisabled"));
  const remove = () => ask(t("confirmRemove", { name }), t("remove"), async () => {
    if (await act(() => api.delete("/job/deregister", { text: name }), t("removed"))) go("jobs");
  });
  if (job.error && job.error.status === 404) {
    return html`<section><p><a href=${href("jobs")}>← ${t("jobs")}</a></p><${Empty} text=${t("noSuchJob", { name })} /></section>`;
  }
  return html`<section>
    <p><a href=${href("jobs")}>← ${t("jobs")}</a></p>
    <div class="title-row"><h2>${name} <small data-testid="job-state">${disabled.data ? t("disabled") : t("enabled")}</small></h2>
      <div class="actions">
        ${can("operate") ? html`<button onClick=${() => setRunning(!running)} aria-expanded=${running}>${t("runNow")}</button>` : null}
        ${can("admin") ? html`<a role="button" class="secondary" href=${href("jobs", name, "edit")}>${t("edit")}</a>` : null}
        ${can("operate") ? html`<button class="secondary" onClick=${toggle}>${disabled.data ? t("enable") : t("disable")}</button>` : null}
        ${can("admin") ? html`<button class="contrast outline" onClick=${remove}>${t("remove")}</button>` : null}
      </div></div>
    ${running ? html`<${RunNow} name=${name} onCancel=${() => setRunning(false)}
        onDone=${async (action) => { if (await act(action, t("triggered"))) setRunning(false); }} />` : null}
    <${Notice} notice=${notice} />
    ${confirming}
    ${runId ? html`<${RunDetail} name=${name} runId=${runId} onNotice=${setNotice} />` : html`
      <div class="grid-2">
        <${Schedule} name=${name} job=${job.data} />
        <${Shards} name=${name} job=${job.data} />
      </div>
      <${Runs} name=${name} />
      <details><summary>${t("configuration")}</summary>
        <${Loading} state=${job}>${(config) => html`<pre data-testid="job-config">${JSON.stringify(config, null, 2)}</pre>`}<//>
      </details>`}
  </section>`;
}

function Schedule({ name, job }) {
  const firings = useData(() => api.get(`/job/jobs/${seg(name)}/firings`, { count: 5 }), [name, job && job.cron, job && job.timeZone], 60 * 1000);
  return html`<article><header>${t("schedule")}</header>
    <${Loading} state=${firings}>${(f) => html`
      <p><code>${f.cron || t("noSchedule")}</code> <small>${f.timeZone}</small></p>
      ${f.firings.length ? html`<ol data-testid="next-firings">${f.firings.map((at) => html`<li><time datetime=${at}>${at.replace("T", " ")}</time></li>`)}</ol>`
        : html`<${Empty} text=${f.cron ? t("neverFires") : t("onlyManual")} />`}`}<//>
  </article>`;
}

function Shards({ name, job }) {
  const tasks = useData(() => api.get("/cluster/tasks", { jobName: name }), [name], 2000);
  const count = job ? job.shardingTotalCount : 0;
  return html`<article><header>${t("shards")}</header>
    <${Loading} state=${tasks}>${(running) => {
      const rows = Array.from({ length: count }, (_, item) => ({ item, tasks: running.filter((r) => r.shardingItem === item) }));
      return rows.length ? html`<${Table} testid="shards" rows=${rows} rowKey=${(r) => r.item} columns=${[
        { key: "shard", label: t("shard"), value: (r) => r.item },
        { key: "task", label: t("currentTask"), value: (r) => (r.tasks[0] ? r.tasks[0].state : ""), sortable: false,
          render: (r) => r.tasks.length ? r.tasks.map((task) => html`<div><a href=${href("jobs", name, "runs", task.runId)}>${task.state}</a>
            <small> ${duration(task)}</small></div>`) : html`<span class="muted">${t("idle")}</span>` },
        { key: "agent", label: t("agent"), value: (r) => (r.tasks[0] ? r.tasks[0].hostname : ""), sortable: false,
          render: (r) => r.tasks.map((task) => html`<div><a href=${href("agents", task.agentId)}>${task.agentId}</a> <small>${task.hostname}</small></div>`) },
      ]} />` : html`<${Empty} />`;
    }}<//>
  </article>`;
}

function Runs({ name }) {
  const [page, setPage] = useState(1);
  const runs = useData(() => api.get(`/job/jobs/${seg(name)}/runs`, { page, per_page: 20 }), [name, page], 2000);
  return html`<h3>${t("runs")}</h3>
    <${Loading} state=${runs}>${(p) => (p.runs.length ? html`<${Table} testid="runs"
      rows=${p.runs} rowKey=${(r) => r.runId} initial=${{ key: "created", asc: false }}
      columns=${[
        { key: "created", label: t("created"), value: (r) => r.createdAt,
          render: (r) => html`<a href=${href("jobs", name, "runs", r.runId)}>${when(r.createdAt)}</a>` },
        { key: "status", label: t("status"), value: (r) => r.status, render: (r) => html`<${Status} value=${r.status} />` },
        { key: "cause", label: t("cause"), value: (r) => r.cause },
        { key: "duration", label: t("duration"), value: (r) => duration(r) },
        { key: "run", label: t("run"), value: (r) => r.runId },
      ]} /><${Pager} page=${page} total=${p.total} perPage=${20} onPage=${setPage} />`
      : html`<${Empty} text=${t("noRuns")} />`)}<//>`;
}

function RunDetail({ name, runId, onNotice }) {
  const run = useData(() => api.get(`/job/jobs/${seg(name)}/runs/${seg(runId)}`), [name, runId], 2000);
  const [taskId, setTaskId] = useState(null);
  const [confirming, ask] = useConfirm();
  const stop = () => ask(t("confirmStop", { run: runId }), t("stopRun"), async () => {
    try {
      await api.post(`/job/jobs/${seg(name)}/runs/${seg(runId)}/stop`);
      onNotice({ text: t("stopped") });
      run.reload();
    } catch (error) { onNotice({ text: errorText(error), error: true }); }
  });
  const removeRecord = () => ask(t("confirmDeleteRun", { run: runId }), t("deleteRecord"), async () => {
    try {
      await api.delete(`/job/jobs/${seg(name)}/runs/${seg(runId)}`);
      onNotice({ text: t("removed") });
      go("jobs", name);
    } catch (error) { onNotice({ text: errorText(error), error: true }); }
  });
  return html`${confirming}<${Loading} state=${run}>${(r) => html`
    <p><a href=${href("jobs", name)}>← ${t("runs")}</a></p>
    <h3>${t("run")} ${r.runId}: <span data-testid="run-status"><${Status} value=${r.status} /></span></h3>
    <p>${t("cause")}: ${r.cause} · ${t("created")}: ${when(r.createdAt)} · ${t("duration")}: ${duration(r)}
      ${r.reason ? html`<br /><span class="muted">${r.reason}</span>` : null}</p>
    ${r.environment && Object.keys(r.environment).length ? html`<p>${t("runEnvironment")}: <code>${Object.entries(r.environment).map(([k, v]) => `${k}=${v}`).join(" ")}</code></p>` : null}
    ${["SUCCESS", "FAILED"].includes(r.status)
      ? (can("admin") ? html`<button class="secondary outline" onClick=${removeRecord}>${t("deleteRecord")}</button>` : null)
      : (can("operate") ? html`<button class="contrast" onClick=${stop}>${t("stopRun")}</button>` : null)}
    <h4>${t("tasks")}</h4>
    <${Table} testid="tasks" rows=${r.tasks.filter((task) => task.shardingItem !== null)} rowKey=${(task) => task.taskId}
      columns=${[
        { key: "shard", label: t("shard"), value: (task) => task.shardingItem,
          render: (task) => html`<button class="link" onClick=${() => setTaskId(task.taskId)}
            aria-pressed=${taskId === task.taskId}>${t("shard")} ${task.shardingItem}${task.attempt ? ` #${task.attempt}` : ""}</button>` },
        { key: "state", label: t("state"), value: (task) => task.state,
          render: (task) => html`<span class=${"state-" + task.state}>${task.state}</span>` },
        { key: "agent", label: t("agent"), value: (task) => task.hostname || task.agentId || "" },
        { key: "exit", label: t("exitCode"), value: (task) => task.exitCode ?? "" },
        { key: "duration", label: t("duration"), value: (task) => duration(task) },
      ]} />
    ${taskId ? html`<${LogView} key=${taskId} taskId=${taskId} />` : null}`}<//>`;
}

const toUnix = (local) => (local ? new Date(local).getTime() / 1000 : undefined);

export function LogView({ taskId }) {
  const [stream, setStream] = useState("stdout");
  const [window_, setWindow] = useState({ start: "", end: "" });
  const [lines, setLines] = useState(null);
  const [error, setError] = useState(null);
  const [following, setFollowing] = useState(false);
  const abort = useRef(null);
  const load = async () => {
    try {
      const windowed = window_.start || window_.end;
      const page = await api.get(`/job/tasks/${seg(taskId)}/logs`, windowed
        ? { stream, from: 0, size: 1000, start_time: toUnix(window_.start), end_time: toUnix(window_.end) }
        : { stream, from: -500 });
      setLines(page.lines); setError(null);
    } catch (e) { setError(e); setLines([]); }
  };
  useEffect(() => { load(); return () => abort.current && abort.current.abort(); }, [taskId, stream, window_.start, window_.end]);
  const follow = async () => {
    if (following) { abort.current.abort(); setFollowing(false); return; }
    abort.current = new AbortController();
    setFollowing(true); setLines([]);
    try {
      await followLog(taskId, stream, (line) => setLines((old) => [...(old || []), line]), abort.current.signal);
    } catch (e) { if (e.name !== "AbortError") setError(e); }
    setFollowing(false);
  };
  const download = async () => {
    const all = [];
    for (let from = 0; ;) {
      const page = await api.get(`/job/tasks/${seg(taskId)}/logs`, { stream, from, size: 5000 });
      all.push(...page.lines);
      if (page.eof || !page.lines.length) break;
      from = page.nextLine;
    }
    const text = all.map((l) => `${new Date(l.time * 1000).toISOString()} ${l.message}`).join("\n") + "\n";
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    link.download = `${taskId}.${stream}.log`;
    link.click();
    URL.revokeObjectURL(link.href);
  };
  return html`<article class="log-view">
    <header><strong>${t("log")}: ${taskId}</strong>
      <div class="actions">
        <select aria-label=${t("stream")} value=${stream} onChange=${(e) => setStream(e.target.value)}>
          <option value="stdout">${t("stdout")}</option><option value="stderr">${t("stderr")}</option></select>
        <label>${t("from")} <input type="datetime-local" step="1" value=${window_.start}
          onChange=${(e) => setWindow({ ...window_, start: e.target.value })} /></label>
        <label>${t("until")} <input type="datetime-local" step="1" value=${window_.end}
          onChange=${(e) => setWindow({ ...window_, end: e.target.value })} /></label>
        <button class="secondary outline" onClick=${follow}>${following ? t("stopFollowing") : t("follow")}</button>
        <button class="secondary outline" onClick=${download}>${t("download")}</button>
      </div>
    </header>
    ${error ? html`<p class="error" role="alert">${error.message}</p>` : null}
    ${lines === null ? html`<p aria-busy="true">${t("loading")}</p>` : lines.length === 0 ? html`<${Empty} text=${t("noLines")} />` :
      html`<pre class="log" data-testid="log">${lines.map((l) => html`<div><span class="time">${new Date(l.time * 1000).toLocaleTimeString()}</span>${l.message}</div>`)}</pre>`}
  </article>`;
}

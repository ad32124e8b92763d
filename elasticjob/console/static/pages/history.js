// History: every task execution and every recorded state change, newest first, as the original console's
// execution history and status trace pages (GET /job/events/executions, GET /job/events/statusTraces).
import { html, useState } from "../vendor/preact-htm.js";
import { api } from "../api.js";
import { t } from "../texts.js";
import { Empty, Loading, Pager, REFRESH_MS, Table, href, useData, when } from "../ui.js";

const PER_PAGE = 25;
const STATES = ["", "STAGING", "RUNNING", "FINISHED", "FAILED", "KILLED", "LOST", "MISSED"];

export function History() {
  const [tab, setTab] = useState("executions");
  const [query, setQuery] = useState({ jobName: "", state: "", page: 1 });
  const set = (change) => setQuery({ ...query, page: 1, ...change });
  const path = tab === "executions" ? "/job/events/executions" : "/job/events/statusTraces";
  const rows = useData(() => api.get(path, {
    jobName: query.jobName, state: query.state,
    page: query.page, per_page: PER_PAGE,
  }), [tab, JSON.stringify(query)], REFRESH_MS);
  const job = (r) => html`<a href=${href("jobs", r.jobName)}>${r.jobName}</a>`;
  const columns = tab === "executions" ? [
    { key: "job", label: t("job"), value: (r) => r.jobName, render: job },
    { key: "shard", label: t("shard"), value: (r) => r.shardingItem ?? "" },
    { key: "state", label: t("state"), value: (r) => r.state, render: (r) => html`<span class=${"state-" + r.state}>${r.state}</span>` },
    { key: "host", label: t("host"), value: (r) => r.hostname || "" },
    { key: "start", label: t("started"), value: (r) => r.startTime || "", render: (r) => when(r.startTime) },
    { key: "end", label: t("finished"), value: (r) => r.completeTime || "", render: (r) => when(r.completeTime) },
    { key: "cause", label: t("failureCause"), value: (r) => r.failureCause || "" },
  ] : [
    { key: "job", label: t("job"), value: (r) => r.jobName, render: job },
    { key: "shard", label: t("shard"), value: (r) => r.shardingItems },
    { key: "state", label: t("state"), value: (r) => r.state },
    { key: "source", label: t("source"), value: (r) => r.source },
    { key: "time", label: t("time"), value: (r) => r.creationTime, render: (r) => when(r.creationTime) },
    { key: "message", label: t("message"), value: (r) => r.message || "" },
  ];
  return html`<section><h2>${t("history")}</h2>
    <div role="tablist" class="actions">
      ${["executions", "statusTraces"].map((name) => html`<button role="tab" aria-selected=${tab === name}
        class=${tab === name ? "" : "secondary outline"} onClick=${() => { setTab(name); set({}); }}>${t(name)}</button>`)}
    </div>
    <div class="filters" role="search">
      <input type="search" placeholder=${t("jobNameExact")} aria-label=${t("jobNameExact")} value=${query.jobName}
        onChange=${(e) => set({ jobName: e.target.value.trim() })} />
      <select aria-label=${t("state")} value=${query.state} onChange=${(e) => set({ state: e.target.value })}>
        ${STATES.map((s) => html`<option value=${s}>${s || t("allStates")}</option>`)}</select>
    </div>
    <${Loading} state=${rows}>${(p) => html`${p.rows.length
      ? html`<${Table} testid="history" rows=${p.rows} rowKey=${(r) => r.id} columns=${columns} />`
      : html`<${Empty} text=${t("noHistory")} />`}
      <${Pager} page=${query.page} total=${p.total} perPage=${PER_PAGE} onPage=${(n) => setQuery({ ...query, page: n })} />`}<//>
  </section>`;
}

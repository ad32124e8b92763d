// Agents: each with its attributes, resources, use and tasks; agents that left shown as gone, with when
// (GET /cluster/agents, GET /cluster/agents/{id}).
import { html } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { t } from "../texts.js";
import { Bar, Empty, Loading, REFRESH_MS, Table, duration, href, useData, when } from "../ui.js";

const attributes = (a) => Object.entries(a.attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ");

export function Agents() {
  const agents = useData(() => api.get("/cluster/agents"), [], REFRESH_MS);
  return html`<section><h2>${t("agents")}</h2>
    <${Loading} state=${agents}>${(list) => (list.length ? html`<${Table} testid="agents" rows=${list}
      rowKey=${(a) => a.agentId + a.status} columns=${[
        { key: "id", label: t("agent"), value: (a) => a.agentId,
          render: (a) => html`<a href=${href("agents", a.agentId)}>${a.agentId}</a>` },
        { key: "host", label: t("host"), value: (a) => a.hostname || "" },
        { key: "status", label: t("status"), value: (a) => a.status,
          render: (a) => html`<span class=${a.status === "GONE" ? "error" : "ok"}>${a.status === "GONE"
            ? t("goneSince", { when: when(a.goneAt) }) : t("active")}</span>` },
        { key: "attributes", label: t("attributes"), value: attributes },
        { key: "cpu", label: t("cpus"), value: (a) => a.usedCpus, render: (a) => (a.status === "GONE" ? a.cpus
          : html`<${Bar} label="" used=${a.usedCpus} total=${a.cpus} />`) },
        { key: "mem", label: t("memory"), value: (a) => a.usedMemMB, render: (a) => (a.status === "GONE" ? a.memMB
          : html`<${Bar} label="" used=${a.usedMemMB} total=${a.memMB} unit="MB" />`) },
        { key: "tasks", label: t("tasks"), value: (a) => a.runningTasks },
      ]} />` : html`<${Empty} text=${t("noAgents")} />`)}<//>
  </section>`;
}

export function AgentDetail({ id }) {
  const agent = useData(() => api.get(`/cluster/agents/${seg(id)}`), [id], REFRESH_MS);
  return html`<section><p><a href=${href("agents")}>← ${t("agents")}</a></p><h2>${id}</h2>
    <${Loading} state=${agent}>${(a) => html`
      <p data-testid="agent-status">${a.status === "GONE" ? html`<span class="error">${t("goneSince", { when: when(a.goneAt) })}</span>`
        : html`<span class="ok">${t("active")}</span>`} · ${a.hostname} · pid ${a.pid}</p>
      <p>${t("attributes")}: <code>${attributes(a) || "—"}</code></p>
      <${Bar} label=${t("cpus")} used=${a.usedCpus} total=${a.cpus} />
      <${Bar} label=${t("memory")} used=${a.usedMemMB} total=${a.memMB} unit="MB" />
      <h3>${t("tasks")}</h3>
      ${a.tasks.length ? html`<${Table} rows=${a.tasks} rowKey=${(r) => r.taskId} columns=${[
        { key: "job", label: t("job"), value: (r) => r.jobName, render: (r) => html`<a href=${href("jobs", r.jobName)}>${r.jobName}</a>` },
        { key: "shard", label: t("shard"), value: (r) => r.shardingItem },
        { key: "run", label: t("run"), value: (r) => r.runId,
          render: (r) => html`<a href=${href("jobs", r.jobName, "runs", r.runId)}>${r.runId}</a>` },
        { key: "state", label: t("state"), value: (r) => r.state },
        { key: "res", label: t("resources"), value: (r) => r.cpus, render: (r) => `${r.cpus} CPU, ${r.memMB} MB` },
        { key: "duration", label: t("duration"), value: (r) => duration(r) },
      ]} />` : html`<${Empty} text=${t("nothingRunning")} />`}`}<//>
  </section>`;
}

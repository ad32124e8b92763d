// Queues: what runs now, what waits to launch and why, shards waiting to run again, missed firings
// (GET /cluster/tasks and GET /cluster/queues).
import { html } from "../vendor/preact-htm.js";
import { api } from "../api.js";
import { t } from "../texts.js";
import { Empty, Loading, REFRESH_MS, Table, duration, href, useData, when } from "../ui.js";

const jobLink = (name) => html`<a href=${href("jobs", name)}>${name}</a>`;

export function Queues() {
  const running = useData(() => api.get("/cluster/tasks"), [], REFRESH_MS);
  const queues = useData(() => api.get("/cluster/queues"), [], REFRESH_MS);
  return html`<section><h2>${t("queues")}</h2>
    <h3>${t("runningTasks")}</h3>
    <${Loading} state=${running}>${(tasks) => (tasks.length ? html`<${Table} testid="running" rows=${tasks}
      rowKey=${(r) => r.taskId} columns=${[
        { key: "job", label: t("job"), value: (r) => r.jobName, render: (r) => jobLink(r.jobName) },
        { key: "shard", label: t("shard"), value: (r) => r.shardingItem },
        { key: "run", label: t("run"), value: (r) => r.runId,
          render: (r) => html`<a href=${href("jobs", r.jobName, "runs", r.runId)}>${r.runId}</a>` },
        { key: "state", label: t("state"), value: (r) => r.state },
        { key: "agent", label: t("agent"), value: (r) => r.agentId,
          render: (r) => html`<a href=${href("agents", r.agentId)}>${r.agentId}</a>` },
        { key: "duration", label: t("duration"), value: (r) => duration(r) },
      ]} />` : html`<${Empty} text=${t("nothingRunning")} />`)}<//>
    <${Loading} state=${queues}>${(q) => html`
      <h3>${t("readyQueue")}</h3>
      ${q.ready.length ? html`<${Table} testid="ready" rows=${q.ready} rowKey=${(r) => r.jobName} columns=${[
        { key: "job", label: t("job"), value: (r) => r.jobName, render: (r) => jobLink(r.jobName) },
        { key: "firings", label: t("waiting"), value: (r) => r.firings.length },
        { key: "since", label: t("since"), value: (r) => r.firings[0].scheduledAt, render: (r) => when(r.firings[0].scheduledAt) },
        { key: "reason", label: t("reason"), value: (r) => r.reason || t("notPlacedYet") },
      ]} />` : html`<${Empty} text=${t("nothingWaiting")} />`}
      <h3>${t("failoverQueue")}</h3>
      ${q.failover.length ? html`<${Table} testid="failover" rows=${q.failover} rowKey=${(r) => `${r.jobName}/${r.shardingItem}/${r.runId}`} columns=${[
        { key: "job", label: t("job"), value: (r) => r.jobName, render: (r) => jobLink(r.jobName) },
        { key: "shard", label: t("shard"), value: (r) => r.shardingItem },
        { key: "cause", label: t("cause"), value: (r) => r.cause },
        { key: "attempt", label: t("attempt"), value: (r) => r.attempt },
        { key: "notBefore", label: t("notBefore"), value: (r) => r.notBefore, render: (r) => when(r.notBefore) },
        { key: "reason", label: t("reason"), value: (r) => r.reason || t("notPlacedYet") },
      ]} />` : html`<${Empty} text=${t("nothingToRerun")} />`}
      <h3>${t("missedFirings")}</h3>
      ${q.missed.length ? html`<${Table} testid="missed" rows=${q.missed} rowKey=${(r) => r.jobName} columns=${[
        { key: "job", label: t("job"), value: (r) => r.jobName, render: (r) => jobLink(r.jobName) },
        { key: "missed", label: t("missedFirings"), value: (r) => r.missedFirings },
        { key: "last", label: t("lastFired"), value: (r) => r.lastFireTime || "", render: (r) => when(r.lastFireTime) },
      ]} />` : html`<${Empty} text=${t("nothingMissed")} />`}`}<//>
  </section>`;
}

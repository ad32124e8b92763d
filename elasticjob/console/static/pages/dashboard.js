// The dashboard: the cluster at a glance (GET /cluster/overview) and task results over the last hour and
// day (GET /job/statistics/tasks/results?since=last24hours, the original console's statistics API).
import { html, useEffect, useRef } from "../vendor/preact-htm.js";
import uPlot from "../vendor/uplot.js";
import { api } from "../api.js";
import { confined } from "../session.js";
import { t } from "../texts.js";
import { Bar, Empty, Loading, REFRESH_MS, href, useData } from "../ui.js";

const HOUR_MS = 3600 * 1000;

const MINUTE_MS = 60 * 1000;

/** Task results per minute of the last 24 hours as ``[{time (ms), success, failed}]``, oldest first. The
 * API answers every minute's bucket in order up to the current one, its dates in the original's format
 * (Gson's, in the master's time zone): the times are placed from the buckets' order instead. */
async function taskResults() {
  const rows = await api.get("/job/statistics/tasks/results", { since: "last24hours" });
  const last = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  return (rows || []).map((r, i, all) => ({
    time: last - (all.length - 1 - i) * MINUTE_MS,
    success: r.successCount || 0,
    failed: r.failedCount || 0,
  }));
}

/** ``points`` summed per hour. */
function hourly(points) {
  const hours = new Map();
  for (const p of points) {
    const hour = Math.floor(p.time / HOUR_MS) * HOUR_MS;
    const sum = hours.get(hour) || { time: hour, success: 0, failed: 0 };
    sum.success += p.success; sum.failed += p.failed;
    hours.set(hour, sum);
  }
  return [...hours.values()];
}

/** A uPlot chart of successes and failures over time. */
function ResultsChart({ points, title, testid }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current) return undefined;
    const width = Math.max(280, box.current.clientWidth || 480);
    const data = [points.map((p) => p.time / 1000), points.map((p) => p.success), points.map((p) => p.failed)];
    const chart = new uPlot({
      width, height: 180, title,
      series: [{}, { label: t("succeeded"), stroke: "#2a7a2a", fill: "rgba(42,122,42,0.15)" },
               { label: t("failed"), stroke: "#b3261e", fill: "rgba(179,38,30,0.15)" }],
      axes: [{}, { label: t("tasks") }],
    }, data, box.current);
    return () => chart.destroy();
  }, [points, title]);
  return html`<figure class="chart" data-testid=${testid}>
    <div ref=${box} role="img" aria-label=${title}></div>
    <figcaption>${`${title}: ${t("succeeded")} ${points.reduce((n, p) => n + p.success, 0)}, ${t("failed")} ${
      points.reduce((n, p) => n + p.failed, 0)}`}</figcaption>
  </figure>`;
}

export function Dashboard() {
  const overview = useData(() => api.get("/cluster/overview"), [], REFRESH_MS);
  const results = useData(() => (confined() ? Promise.resolve(null) : taskResults()), [], 60 * 1000);
  return html`<section><h2>${t("dashboard")}</h2>
    <${Loading} state=${overview}>${(o) => html`
      <div class="grid-2">
        <article>
          <header>${t("cluster")}</header>
          <p>${t("leader")}: <strong data-testid="leader">${o.leader ? o.leader.leader : t("noLeader")}</strong></p>
          <p>ZooKeeper: <strong data-testid="zookeeper" class=${o.zookeeper.state === "CONNECTED" ? "ok" : "error"}>
            ${o.zookeeper.state}${o.zookeeper.synced ? "" : ` (${t("resyncing")})`}</strong></p>
          <p><a href=${href("agents")}>${t("agents")}</a>: <strong data-testid="agents">${o.agents.count}</strong>
            ${o.agents.gone ? html` <small>(${t("agentsGone", { count: o.agents.gone })})</small>` : null}</p>
          <${Bar} label=${t("cpus")} used=${o.agents.cpus.used} total=${o.agents.cpus.total} testid="cpu-bar" />
          <${Bar} label=${t("memory")} used=${o.agents.memMB.used} total=${o.agents.memMB.total} unit="MB"
            testid="mem-bar" />
        </article>
        <div class="cards">
          ${[["runningTasks", o.tasks.running, "queues"], ["readyFirings", o.tasks.readyFirings, "queues"],
             ["failoverShards", o.tasks.failover, "queues"], ["missedFirings", o.tasks.missedFirings, "queues"],
             ["registeredJobs", o.jobs.count, "jobs"], ["registeredApps", o.apps.count, "apps"]].map(
            ([key, value, page]) => html`<article data-testid=${key}>
              <a href=${href(page)}><div class="figure">${value}</div><small>${t(key)}</small></a></article>`)}
        </div>
      </div>`}<//>
    <h3>${t("taskResults")}</h3>
    <${Loading} state=${results}>${(points) => {
      if (points === null) return html`<${Empty} text=${t("statisticsNotYours")} />`;
      if (!points.some((p) => p.success || p.failed)) return html`<${Empty} text=${t("noResults")} />`;
      const hour = points.slice(-60);
      return html`<div class="grid-2">
        <${ResultsChart} points=${hour} title=${t("lastHour")} testid="chart-hour" />
        <${ResultsChart} points=${hourly(points)} title=${t("lastDay")} testid="chart-day" />
      </div>`;
    }}<//>
  </section>`;
}

// Apps: the list, one app with its jobs, and the daily actions (edit, enable/disable, delete).
import { html, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { t } from "../texts.js";
import {
  Empty, Loading, Notice, Pager, REFRESH_MS, Table, errorText, go, href, useConfirm, useData,
} from "../ui.js";
import { can } from "../session.js";

const PAGE_SIZE = 25;

export function Apps() {
  const [filter, setFilter] = useState("");
  const [page, setPage] = useState(1);
  const [sort, setSort] = useState({ key: "name", asc: true });
  const state = useData(() => api.get("/app/list"), [], REFRESH_MS);
  const columns = [
    { key: "name", label: t("name"), value: (a) => a.appName,
      render: (a) => html`<a href=${href("apps", a.appName)}>${a.appName}</a>` },
    { key: "url", label: "appURL", value: (a) => a.appURL },
    { key: "cpu", label: t("cpus"), value: (a) => a.cpuCount },
    { key: "mem", label: t("memory"), value: (a) => a.memoryMB },
  ];
  return html`<section>
    <div class="title-row"><h2>${t("apps")}</h2>
      ${can("admin") ? html`<a role="button" href=${href("apps", "new")}>${t("newApp")}</a>` : null}</div>
    <input type="search" placeholder=${t("filter")} aria-label=${t("filter")} value=${filter}
      onInput=${(e) => { setFilter(e.target.value); setPage(1); }} />
    <${Loading} state=${state}>${(apps) => {
      // Sorted and paged here (the list is every app): the whole list is sorted, then a page shown.
      const value = columns.find((c) => c.key === sort.key).value;
      const matching = apps.filter((a) => a.appName.toLowerCase().includes(filter.toLowerCase()))
        .sort((a, b) => (value(a) < value(b) ? -1 : value(a) > value(b) ? 1 : 0) * (sort.asc ? 1 : -1));
      const shown = matching.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE);
      return shown.length ? html`<${Table} testid="apps" rows=${shown} rowKey=${(a) => a.appName}
        columns=${columns} sort=${sort} onSort=${(next) => { setSort(next); setPage(1); }} /><${Pager} page=${page} total=${matching.length} perPage=${PAGE_SIZE} onPage=${setPage} />`
        : html`<${Empty} text=${filter ? t("noMatch") : t("noApps")} />`;
    }}<//></section>`;
}

export function AppDetail({ name }) {
  const [notice, setNotice] = useState(null);
  const [confirming, ask] = useConfirm();
  const app = useData(() => api.get(`/app/${seg(name)}`), [name], REFRESH_MS);
  const disabled = useData(() => api.get(`/app/${seg(name)}/disable`), [name], REFRESH_MS);
  const jobs = useData(() => api.get("/job/summaries", { app: name, per_page: 1000 }), [name], REFRESH_MS);
  const act = async (action, done) => {
    try { await action(); setNotice({ text: done }); app.reload(); disabled.reload(); return true; } catch (error) {
      setNotice({ text: errorText(error), error: true });
      return false;
    }
  };
  const remove = () => {
    // An app with jobs goes with them (as the original console's delete did), said so before.
    const count = jobs.data ? jobs.data.total : 0;
    const text = count ? t("confirmRemoveAppJobs", { name, count }) : t("confirmRemoveApp", { name });
    ask(text, t("remove"), async () => {
      const path = `/app/${seg(name)}${count ? "?cascade=true" : ""}`;
      if (await act(() => api.delete(path), t("removed"))) go("apps");
    });
  };
  return html`<section>
    <p><a href=${href("apps")}>← ${t("apps")}</a></p>
    <div class="title-row"><h2>${name} <small>${disabled.data ? t("disabled") : t("enabled")}</small></h2>
      <div class="actions">
        ${can("admin") ? html`<a role="button" class="secondary" href=${href("apps", name, "edit")}>${t("edit")}</a>` : null}
        ${can("operate") ? html`<button class="secondary" onClick=${() => act(() => api.post(`/app/${seg(name)}/${disabled.data ? "enable" : "disable"}`),
          disabled.data ? t("nowEnabled") : t("nowDisabled"))}>${disabled.data ? t("enable") : t("disable")}</button>` : null}
        ${can("admin") ? html`<button class="contrast outline" onClick=${remove}>${t("remove")}</button>` : null}
      </div></div>
    <${Notice} notice=${notice} />${confirming}
    <h3>${t("jobs")}</h3>
    <${Loading} state=${jobs}>${(page) => (page.jobs.length ? html`<ul>${page.jobs.map((j) => html`<li>
      <a href=${href("jobs", j.jobName)}>${j.jobName}</a> <small>${j.cron || t("noSchedule")}</small></li>`)}</ul>`
      : html`<${Empty} text=${t("noJobs")} />`)}<//>
    <h3>${t("configuration")}</h3>
    <${Loading} state=${app}>${(a) => html`<pre>${JSON.stringify(a, null, 2)}</pre>`}<//>
  </section>`;
}

// The registry browser: a read-only view of the installation's znodes (GET /cluster/registry), one znode
// at a time — its data (pretty JSON), version, times and children.
import { html, useState } from "../vendor/preact-htm.js";
import { api } from "../api.js";
import { t } from "../texts.js";
import { Loading, Pager, href, useData, when } from "../ui.js";

const PAGE = 200;

export function Registry({ path }) {
  const [page, setPage] = useState(1);
  const node = useData(() => api.get("/cluster/registry", { path: path || "/", from: (page - 1) * PAGE, size: PAGE }), [path, page]);
  const link = (absolute, label) => html`<a href=${href("registry", ...absolute.split("/").filter(Boolean))}>${label}</a>`;
  return html`<section><h2>${t("registry")}</h2>
    <${Loading} state=${node}>${(n) => {
      const parts = n.path.split("/").filter(Boolean);
      return html`
        <nav aria-label=${t("path")} class="crumbs" data-testid="znode-path">${parts.map((part, i) => html`<span>/${
          link("/" + parts.slice(0, i + 1).join("/"), part)}</span>`)}</nav>
        <div class="grid-2">
          <article>
            <header>${t("children")} (${n.numChildren})</header>
            ${n.parent ? html`<p>${link(n.parent, "..")}</p>` : null}
            ${n.children.length ? html`<ul class="znodes" data-testid="children">${n.children.map((c) => html`<li>${link(`${n.path}/${c}`, c)}</li>`)}</ul>`
              : html`<p class="muted">${t("noChildren")}</p>`}
            ${n.numChildren > PAGE ? html`<${Pager} page=${page} total=${n.numChildren} perPage=${PAGE} onPage=${setPage} />` : null}
          </article>
          <article>
            <header>${t("znode")}</header>
            <dl class="stat">
              <dt>${t("version")}</dt><dd data-testid="znode-version">${n.version}</dd>
              <dt>${t("modified")}</dt><dd>${when(n.mtime)}</dd>
              <dt>${t("created")}</dt><dd>${when(n.ctime)}</dd>
              <dt>${t("ephemeral")}</dt><dd>${n.ephemeral ? t("yes") : t("no")}</dd>
              <dt>${t("size")}</dt><dd>${n.dataLength} B</dd>
            </dl>
            ${n.format === "empty" ? html`<p class="muted">${t("noData")}</p>`
              : html`<pre data-testid="znode-data">${n.format === "json" ? JSON.stringify(n.data, null, 2) : n.data}</pre>`}
          </article>
        </div>`;
    }}<//></section>`;
}

// Shared pieces of the console's pages: routing links, data loading, loading/empty/error states, tables,
// notices, confirmation, resource bars. Pages import from here; nothing here knows a page.
import { html, useEffect, useRef, useState } from "./vendor/preact-htm.js";
import { t } from "./texts.js";

export const REFRESH_MS = 5000;

/** ``#/a/b`` for the route parts ``a``, ``b`` (each encoded as one segment). */
export const href = (...parts) => "#/" + parts.map((p) => encodeURIComponent(p)).join("/");

export function go(...parts) { window.location.hash = href(...parts); }

/** ``load()``'s result, reloaded every ``every`` ms (0: once) and by ``reload()``. A failed reload keeps
 * the last data and shows the error beside it. */
export function useData(load, deps, every = 0) {
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

/** The children for the data once loaded; a spinner before, an error with a retry button if it failed. */
export function Loading({ state, children }) {
  if (state.error && !state.data) {
    return html`<p class="error" role="alert">${state.error.message}
      <button class="secondary outline" onClick=${state.reload}>${t("retry")}</button></p>`;
  }
  if (state.loading && !state.data) return html`<p aria-busy="true">${t("loading")}</p>`;
  return html`${state.error ? html`<p class="error" role="alert">${state.error.message}</p>` : null}
    ${children(state.data)}`;
}

export function Empty({ text }) { return html`<p class="empty">${text || t("empty")}</p>`; }

export function Notice({ notice }) {
  if (!notice) return null;
  return html`<p role=${notice.error ? "alert" : "status"} class=${notice.error ? "error" : "ok"}>${notice.text}</p>`;
}

/** An API error as one line: its message and each field's errors. */
export function errorText(error) {
  const details = (error.details || []).map((d) => `${d.path}: ${(d.errors || []).join(", ")}`);
  return [error.message, ...details].join(" — ");
}

/** ``{path: "message"}`` of an API error's field details (paths as the API names them: ``a.b`` or ``/a/b``). */
export function fieldErrors(error) {
  const errors = {};
  for (const d of (error && error.details) || []) {
    const path = String(d.path || "").replace(/^\//, "").replace(/\//g, ".");
    errors[path] = (d.errors || []).join(", ");
  }
  return errors;
}

/** A table whose headers sort it (click, or Enter/Space on a focused header) unless ``sortable`` is false;
 * ``initial``: the first sort (default the first column, ascending); ``onSort`` makes the sorting the
 * caller's (server-side, ``sort`` its current state). */
export function Table({ columns, rows, rowKey, sort: outer, onSort, testid, initial }) {
  const [inner, setInner] = useState(initial || { key: columns[0].key, asc: true });
  const sort = outer || inner;
  const setSort = onSort || setInner;
  let shown = rows;
  if (!onSort) {
    const column = columns.find((c) => c.key === sort.key) || columns[0];
    shown = [...rows].sort((a, b) => {
      const x = column.value(a);
      const y = column.value(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (sort.asc ? 1 : -1);
    });
  }
  const toggle = (c) => setSort({ key: c.key, asc: sort.key === c.key ? !sort.asc : true });
  const header = (c) => c.sortable === false ? html`<th scope="col">${c.label}</th>` : html`<th
      data-sort=${c.key} tabindex="0" scope="col"
      aria-sort=${sort.key === c.key ? (sort.asc ? "ascending" : "descending") : "none"}
      onClick=${() => toggle(c)}
      onKeyDown=${(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(c); } }}
    >${c.label}${sort.key === c.key ? (sort.asc ? " ▲" : " ▼") : ""}</th>`;
  return html`<div class="overflow-auto"><table class="striped" data-testid=${testid}>
    <thead><tr>${columns.map(header)}</tr></thead>
    <tbody>${shown.map((row) => html`<tr key=${rowKey(row)}>
      ${columns.map((c) => html`<td data-label=${c.label}>${c.render ? c.render(row) : c.value(row)}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}

export function Pager({ page, total, perPage, onPage }) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  return html`<nav class="pager" aria-label=${t("pages")}>
    <button class="secondary" disabled=${page <= 1} onClick=${() => onPage(page - 1)}>${t("previous")}</button>
    <span>${t("pageOf", { page, pages, total })}</span>
    <button class="secondary" disabled=${page >= pages} onClick=${() => onPage(page + 1)}>${t("next")}</button>
  </nav>`;
}

/** A labelled bar of ``used`` out of ``total``. */
export function Bar({ label, used, total, unit, testid }) {
  const share = total > 0 ? Math.min(100, (100 * used) / total) : 0;
  return html`<div class="bar" data-testid=${testid}>
    <div class="bar-label"><span>${label}</span><span>${fmt(used)} / ${fmt(total)} ${unit || ""}</span></div>
    <progress value=${share} max="100" aria-label=${label}></progress>
  </div>`;
}

export const fmt = (n) => (n === null || n === undefined ? "" : Number(n).toLocaleString(undefined, { maximumFractionDigits: 2 }));

export function when(iso) { return iso ? new Date(iso).toLocaleString() : ""; }

/** Seconds from start to end (or now) of something with ``startedAt``/``createdAt``/``finishedAt``. */
export function duration(item) {
  const start = item.startedAt || item.createdAt;
  if (!start) return "";
  const end = item.finishedAt ? new Date(item.finishedAt) : new Date();
  const seconds = Math.max(0, Math.round((end - new Date(start)) / 1000));
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** A modal dialog asking to confirm ``text``; ``onAnswer(true|false)``. Escape cancels. */
export function Confirm({ text, confirmLabel, onAnswer }) {
  const dialog = useRef(null);
  useEffect(() => {
    const element = dialog.current;
    if (element && !element.open) element.showModal();
    return () => element && element.open && element.close();
  }, []);
  return html`<dialog ref=${dialog} onCancel=${(e) => { e.preventDefault(); onAnswer(false); }}>
    <article>
      <p>${text}</p>
      <footer class="actions">
        <button class="secondary" onClick=${() => onAnswer(false)}>${t("cancel")}</button>
        <button class="contrast" data-testid="confirm" onClick=${() => onAnswer(true)}>${confirmLabel || t("confirm")}</button>
      </footer>
    </article>
  </dialog>`;
}

/** ``[confirming element, ask(text, label, action)]``: ``ask`` shows a dialog and runs ``action`` on yes. */
export function useConfirm() {
  const [asking, setAsking] = useState(null);
  const element = asking ? html`<${Confirm} text=${asking.text} confirmLabel=${asking.label}
    onAnswer=${(yes) => { const action = asking.action; setAsking(null); if (yes) action(); }} />` : null;
  return [element, (text, label, action) => setAsking({ text, label, action })];
}

export function Status({ value }) {
  return html`<span class=${"badge status-" + value} data-testid="status">${value}</span>`;
}

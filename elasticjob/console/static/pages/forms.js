// Create and edit forms for jobs and apps: a form and a JSON editor side by side, one value behind both
// (as DC/OS's job screen). The API validates; its field errors are shown next to the field they name,
// and those of fields the form does not show under the JSON editor.
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { api, seg } from "../api.js";
import { t } from "../texts.js";
import { Loading, Notice, errorText, fieldErrors, go, href, useData } from "../ui.js";

// What GET /job/jobs/{name} adds to a job's configuration: not part of it, not sent back.
const COMPUTED_JOB_FIELDS = ["nextFireTime", "lastFireTime", "pendingFirings", "missedFirings"];

const JOB_FIELDS = [
  { key: "jobName", type: "text", required: true, fixedOnEdit: true },
  { key: "appName", type: "app" },
  { key: "description", type: "textarea" },
  { key: "cron", type: "text", hint: "cronHint" },
  { key: "cronDialect", type: "select", options: ["", "QUARTZ", "UNIX", "ISO8601", "METRONOME"] },
  { key: "timeZone", type: "text", placeholder: "UTC" },
  { key: "jobExecutionType", type: "select", options: ["TRANSIENT", "DAEMON"] },
  { key: "shardingTotalCount", type: "number", required: true, min: 1, step: 1 },
  { key: "shardingItemParameters", type: "text", placeholder: "0=a,1=b" },
  { key: "jobParameter", type: "text" },
  { key: "cpuCount", type: "number", required: true, min: 0.001, step: "any" },
  { key: "memoryMB", type: "number", required: true, min: 1, step: "any" },
  { key: "concurrencyPolicy", type: "select", options: ["FORBID", "ALLOW", "REPLACE"] },
  { key: "failover", type: "checkbox" },
  { key: "misfire", type: "checkbox" },
  { key: "shardRetryLimit", type: "number", min: 0, step: 1 },
  { key: "environment", type: "keyvalues" },
  // Secret values come back from the API as ****** (model/secrets.py); saving the mask keeps the value.
  { key: "secretEnvironment", type: "list", hint: "secretHint" },
];

const APP_FIELDS = [
  { key: "appName", type: "text", required: true, fixedOnEdit: true },
  { key: "appURL", type: "text", required: true, placeholder: "https://example.com/app.tar.gz" },
  { key: "bootstrapScript", type: "text", required: true, placeholder: "bin/start.sh" },
  { key: "cpuCount", type: "number", min: 0.001, step: "any" },
  { key: "memoryMB", type: "number", min: 1, step: "any" },
  { key: "appCacheEnable", type: "checkbox" },
  { key: "eventTraceSamplingCount", type: "number", min: 0, step: 1 },
];

const NEW_JOB = { jobName: "", shardingTotalCount: 1, cpuCount: 0.1, memoryMB: 64,
                  jobExecutionType: "TRANSIENT", failover: true, misfire: true };
const NEW_APP = { appName: "", appURL: "", bootstrapScript: "bin/start.sh", cpuCount: 0.1, memoryMB: 64,
                  appCacheEnable: true };

/** ``KEY=VALUE`` lines as an object (lines without ``=`` are ignored), and back. */
export function parseKeyValues(text) {
  const value = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) value[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return value;
}
export const keyValuesText = (value) => Object.entries(value || {}).map(([k, v]) => `${k}=${v}`).join("\n");

/** A textarea of KEY=VALUE lines bound to an object; keeps what is being typed until it parses. */
export function KeyValues({ id, value, onChange, invalid }) {
  const [draft, setDraft] = useState(keyValuesText(value));
  useEffect(() => {
    if (JSON.stringify(parseKeyValues(draft)) !== JSON.stringify(value || {})) setDraft(keyValuesText(value));
  }, [JSON.stringify(value || {})]);
  return html`<textarea id=${id} rows="3" placeholder="KEY=value" aria-invalid=${invalid ? "true" : undefined}
    value=${draft} onInput=${(e) => { setDraft(e.target.value); onChange(parseKeyValues(e.target.value)); }} />`;
}

function Field({ field, value, error, editing, apps, onChange }) {
  const id = `field-${field.key}`;
  const current = value[field.key];
  const invalid = error ? "true" : undefined;
  const set = (v) => onChange(field.key, v);
  let input;
  if (field.type === "checkbox") {
    return html`<div class="field"><label for=${id}>
      <input id=${id} type="checkbox" role="switch" checked=${!!current} aria-invalid=${invalid}
        onChange=${(e) => set(e.target.checked)} /> ${t("field." + field.key)}</label>
      ${error ? html`<small class="error" id=${id + "-error"}>${error}</small>` : null}</div>`;
  }
  if (field.type === "select" || field.type === "app") {
    const listed = field.type === "app" ? apps : field.options;
    // Absent means the API's default: "—" stands for it.
    const options = listed.includes("") || (current !== undefined && field.type !== "app") ? listed : ["", ...listed];
    input = html`<select id=${id} aria-invalid=${invalid} value=${current ?? ""}
      onChange=${(e) => set(e.target.value === "" ? undefined : e.target.value)}>
      ${options.map((o) => html`<option value=${o}>${o === "" ? "—" : o}</option>`)}</select>`;
  } else if (field.type === "textarea") {
    input = html`<textarea id=${id} rows="2" aria-invalid=${invalid} value=${current ?? ""}
      onInput=${(e) => set(e.target.value === "" ? undefined : e.target.value)} />`;
  } else if (field.type === "list") {
    input = html`<input id=${id} type="text" aria-invalid=${invalid} value=${(current || []).join(", ")}
      onChange=${(e) => {
        const items = e.target.value.split(",").map((s) => s.trim()).filter(Boolean);
        set(items.length ? items : undefined);
      }} />`;
  } else if (field.type === "keyvalues") {
    input = html`<${KeyValues} id=${id} value=${current} invalid=${error} onChange=${(v) => set(v)} />`;
  } else {
    const number = field.type === "number";
    input = html`<input id=${id} type=${number ? "number" : "text"} min=${field.min} step=${field.step}
      placeholder=${field.placeholder} aria-invalid=${invalid} aria-describedby=${error ? id + "-error" : undefined}
      readonly=${editing && field.fixedOnEdit} required=${field.required}
      value=${current ?? ""}
      onInput=${(e) => {
        const raw = e.target.value;
        if (raw === "") set(undefined);
        else if (number && !Number.isNaN(Number(raw))) set(Number(raw));
        else set(raw);
      }} />`;
  }
  return html`<div class="field">
    <label for=${id}>${t("field." + field.key)}${field.required ? " *" : ""}</label>
    ${input}
    ${error ? html`<small class="error" id=${id + "-error"} data-testid=${"error-" + field.key}>${error}</small>`
            : field.hint ? html`<small>${t(field.hint)}</small>` : null}
  </div>`;
}

/** The form and JSON editor over one value; ``submit(value)`` is the API call. */
function Editor({ initial, fields, editing, apps, submit, onDone, title, cancel }) {
  const [value, setValue] = useState(initial);
  const [text, setText] = useState(JSON.stringify(initial, null, 2));
  const [jsonError, setJsonError] = useState(null);
  const [errors, setErrors] = useState({});
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);
  const change = (key, v) => {
    const next = { ...value };
    if (v === undefined) delete next[key]; else next[key] = v;
    setValue(next); setText(JSON.stringify(next, null, 2)); setJsonError(null);
    if (errors[key]) { const rest = { ...errors }; delete rest[key]; setErrors(rest); }
  };
  const edited = (raw) => {
    setText(raw);
    try {
      const parsed = JSON.parse(raw);
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error(t("jsonObject"));
      setValue(parsed); setJsonError(null);
    } catch (e) { setJsonError(e.message); }
  };
  const save = async (e) => {
    e.preventDefault();
    if (jsonError) { setNotice({ text: t("fixJson"), error: true }); return; }
    setBusy(true);
    try {
      await submit(value);
      setErrors({});
      onDone(value);
    } catch (error) {
      setErrors(fieldErrors(error));
      setNotice({ text: errorText(error), error: true });
    }
    setBusy(false);
  };
  const shown = new Set(fields.map((f) => f.key));
  const others = Object.entries(errors).filter(([path]) => !shown.has(path.split(".")[0]));
  const fieldError = (key) => errors[key] || Object.entries(errors).filter(([p]) => p.startsWith(key + ".")).map(([p, m]) => `${p}: ${m}`).join("; ");
  return html`<section>
    <h2>${title}</h2>
    <${Notice} notice=${notice} />
    <form class="editor" onSubmit=${save} novalidate>
      <fieldset class="form-side">
        ${fields.map((field) => html`<${Field} key=${field.key} field=${field} value=${value}
          error=${fieldError(field.key)} editing=${editing} apps=${apps} onChange=${change} />`)}
      </fieldset>
      <div class="json-side">
        <label for="json-editor">${t("json")}</label>
        <textarea id="json-editor" data-testid="json-editor" spellcheck="false" aria-invalid=${jsonError ? "true" : undefined}
          value=${text} onInput=${(e) => edited(e.target.value)} />
        ${jsonError ? html`<small class="error">${jsonError}</small>` : null}
        ${others.map(([path, message]) => html`<small class="error" data-testid=${"error-" + path}>${path}: ${message}</small>`)}
      </div>
      <div class="actions">
        <button type="submit" aria-busy=${busy ? "true" : undefined} disabled=${busy}>${editing ? t("save") : t("create")}</button>
        <a role="button" class="secondary outline" href=${cancel}>${t("cancel")}</a>
      </div>
    </form>
  </section>`;
}

function useAppNames() {
  return useData(async () => (await api.get("/app/list")).map((a) => a.appName), []);
}

export function JobEditor({ name }) {
  const apps = useAppNames();
  const job = useData(async () => {
    if (!name) return { ...NEW_JOB };
    const value = await api.get(`/job/jobs/${seg(name)}`);
    for (const key of COMPUTED_JOB_FIELDS) delete value[key];
    return value;
  }, [name]);
  return html`<${Loading} state=${job}>${(initial) => html`<${Loading} state=${apps}>${(names) => html`
    <${Editor} initial=${initial} fields=${JOB_FIELDS} editing=${!!name} apps=${names}
      title=${name ? t("editJob", { name }) : t("newJob")} cancel=${name ? href("jobs", name) : href("jobs")}
      submit=${(value) => (name ? api.put("/job/update", { json: value }) : api.post("/job/register", { json: value }))}
      onDone=${(value) => go("jobs", value.jobName)} />`}<//>`}<//>`;
}

export function AppEditor({ name }) {
  const app = useData(async () => (name ? api.get(`/app/${seg(name)}`) : { ...NEW_APP }), [name]);
  return html`<${Loading} state=${app}>${(initial) => html`
    <${Editor} initial=${initial} fields=${APP_FIELDS} editing=${!!name} apps=${[]}
      title=${name ? t("editApp", { name }) : t("newApp")} cancel=${href("apps")}
      submit=${(value) => (name ? api.put("/app", { json: value }) : api.post("/app", { json: value }))}
      onDone=${(value) => go("apps", value.appName)} />`}<//>`;
}

// The ElasticJob console: one page with hash routes, built with Preact and htm (vendor/), talking only to
// the public REST API (api.js). Routes:
//   #/                       dashboard            #/queues              running, ready, failover, missed
//   #/jobs                   jobs                 #/jobs/new            create a job
//   #/jobs/NAME              a job                #/jobs/NAME/edit      edit it
//   #/jobs/NAME/runs/RUN     a run of it          #/apps[/NAME[/edit]]  apps, #/apps/new
//   #/agents[/ID]            agents               #/registry/PATH...    the registry browser
//   #/history                executions and status traces
import { html, render, useEffect, useState } from "./vendor/preact-htm.js";
import { LANGUAGES, language, setLanguage, t } from "./texts.js";
import { href } from "./ui.js";
import { Dashboard } from "./pages/dashboard.js";
import { JobDetail, Jobs } from "./pages/jobs.js";
import { AppEditor, JobEditor } from "./pages/forms.js";
import { AppDetail, Apps } from "./pages/apps.js";
import { Queues } from "./pages/queues.js";
import { AgentDetail, Agents } from "./pages/agents.js";
import { Registry } from "./pages/registry.js";
import { History } from "./pages/history.js";
import { Login } from "./pages/login.js";
import { api } from "./api.js";
import { confined, session, setSession } from "./session.js";

function currentRoute() {
  return window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

function useRoute() {
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const changed = () => { setRoute(currentRoute()); window.scrollTo(0, 0); };
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}

const PAGES = [["", "dashboard"], ["jobs", "jobs"], ["apps", "apps"], ["queues", "queues"], ["history", "history"],
               ["agents", "agents"], ["registry", "registry"]];

function Nav({ route, onLogout }) {
  const here = route[0] || "";
  const me = session();
  return html`<nav class="top container">
    <ul><li><a href="#/" class="brand"><strong>${t("title")}</strong></a></li></ul>
    <ul>${PAGES.filter(([target]) => !(target === "registry" && confined())).map(([target, key]) => html`<li><a href=${href(target)}
      aria-current=${here === target ? "page" : undefined}>${t(key)}</a></li>`)}
      <li><select aria-label=${t("language")} value=${language()} onChange=${(e) => setLanguage(e.target.value)}>
        ${Object.entries(LANGUAGES).map(([code, label]) => html`<option value=${code}>${label}</option>`)}</select></li>
      ${me.auth ? html`<li><small data-testid="who">${me.name} (${t("role." + me.role)})</small></li>
        <li><button class="secondary outline" onClick=${onLogout}>${t("logout")}</button></li>` : null}
    </ul>
  </nav>`;
}

function page(route) {
  const [section, name, sub, id] = route;
  if (section === "jobs") {
    if (name === "new") return html`<${JobEditor} />`;
    if (name && sub === "edit") return html`<${JobEditor} key=${name} name=${name} />`;
    if (name) return html`<${JobDetail} key=${name} name=${name} runId=${sub === "runs" ? id : null} />`;
    return html`<${Jobs} />`;
  }
  if (section === "apps") {
    if (name === "new") return html`<${AppEditor} />`;
    if (name && sub === "edit") return html`<${AppEditor} key=${name} name=${name} />`;
    if (name) return html`<${AppDetail} key=${name} name=${name} />`;
    return html`<${Apps} />`;
  }
  if (section === "queues") return html`<${Queues} />`;
  if (section === "history") return html`<${History} />`;
  if (section === "agents") return name ? html`<${AgentDetail} key=${name} id=${name} />` : html`<${Agents} />`;
  if (section === "registry") return html`<${Registry} path=${"/" + route.slice(1).join("/")} />`;
  return html`<${Dashboard} />`;
}

function Console() {
  const route = useRoute();
  const [, setLanguageTick] = useState(0);
  // "checking" until GET /auth/me answers, then "in" or "out" (a master with an auth file, no session).
  const [access, setAccess] = useState("checking");
  const check = async () => {
    try {
      setSession(await api.get("/auth/me"));
      setAccess("in");
    } catch (error) {
      setAccess(error.status === 401 ? "out" : "in");
    }
  };
  useEffect(() => {
    check();
    const changed = () => setLanguageTick((n) => n + 1);
    const loggedOut = () => setAccess("out");
    window.addEventListener("languagechange-console", changed);
    window.addEventListener("elasticjob-logged-out", loggedOut);
    return () => {
      window.removeEventListener("languagechange-console", changed);
      window.removeEventListener("elasticjob-logged-out", loggedOut);
    };
  }, []);
  const logout = async () => { await api.post("/auth/logout"); setAccess("out"); };
  if (access === "checking") return html`<main class="container"><p aria-busy="true">${t("loading")}</p></main>`;
  if (access === "out") return html`<${Login} onLoggedIn=${check} />`;
  return html`<a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>${t("skip")}</a>
    <${Nav} route=${route} onLogout=${logout} /><main class="container" id="main" tabindex="-1">${page(route)}</main>`;
}

render(html`<${Console} />`, document.getElementById("app"));

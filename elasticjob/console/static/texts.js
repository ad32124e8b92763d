// Every text the console shows, by language: add a language by adding its table (same keys).
const TEXTS = {
  en: {
    title: "ElasticJob",
    dashboard: "Dashboard", jobs: "Jobs", apps: "Apps",
    leader: "Leader", runningTasks: "Running tasks", readyFirings: "Waiting firings",
    failoverShards: "Shards to run again", registeredJobs: "Registered jobs", registeredApps: "Registered apps",
    loading: "Loading…", empty: "Nothing here yet.", retry: "Try again",
    filter: "Filter by name", name: "Name", app: "App", cron: "Schedule", shards: "Shards", type: "Type",
    state: "State", enabled: "enabled", disabled: "disabled",
    previous: "Previous", next: "Next", page: "Page",
    runNow: "Run now", enable: "Enable", disable: "Disable", remove: "Delete",
    confirmRemove: "Delete job {name}? Its configuration is removed; its history stays.",
    configuration: "Configuration", runs: "Runs", run: "Run", status: "Status", cause: "Cause",
    created: "Created", duration: "Duration", tasks: "Tasks", shard: "Shard", agent: "Agent", exitCode: "Exit",
    log: "Log", stdout: "stdout", stderr: "stderr", follow: "Follow", stopFollowing: "Stop following",
    stopRun: "Stop run", noRuns: "No runs yet.", noLines: "No output yet.", back: "Back",
    triggered: "Run started.", removed: "Job deleted.", stopped: "Run stopped.",
  },
};

const language = (navigator.language || "en").slice(0, 2);
const table = TEXTS[language] || TEXTS.en;

/** The text of ``key``, with ``{name}`` placeholders filled from ``values``. */
export function t(key, values = {}) {
  const text = table[key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

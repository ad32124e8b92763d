// Every text the console shows, by language: add a language by adding its table (same keys) and its name
// to LANGUAGES. Missing keys fall back to English.
const TEXTS = {
  en: {
    title: "ElasticJob", skip: "Skip to content", language: "Language",
    dashboard: "Dashboard", jobs: "Jobs", apps: "Apps", queues: "Queues", agents: "Agents", registry: "Registry",
    cluster: "Cluster", leader: "Leader", noLeader: "no leader elected", resyncing: "re-reading its state",
    agentsGone: "{count} gone", cpus: "CPUs", memory: "Memory",
    runningTasks: "Running tasks", readyFirings: "Waiting firings", failoverShards: "Shards to run again",
    missedFirings: "Missed firings", registeredJobs: "Registered jobs", registeredApps: "Registered apps",
    taskResults: "Task results", lastHour: "Last hour", lastDay: "Last 24 hours", succeeded: "succeeded",
    failed: "failed", noResults: "No task has finished in the last 24 hours.",
    statisticsNotYours: "Task statistics cover the whole installation; they are not shown to users confined to job groups.",
    loading: "Loading…", empty: "Nothing here yet.", retry: "Try again", noMatch: "Nothing matches the filter.",
    filter: "Filter by name", allApps: "All apps", allStates: "Enabled and disabled",
    name: "Name", app: "App", group: "Group", cron: "Schedule", shards: "Shards", type: "Type", job: "Job",
    state: "State", enabled: "enabled", disabled: "disabled", invalid: "invalid",
    nowEnabled: "Enabled.", nowDisabled: "Disabled.",
    previous: "Previous", next: "Next", pages: "Pages", pageOf: "Page {page} of {pages} ({total})",
    newJob: "New job", editJob: "Edit job {name}", newApp: "New app", editApp: "Edit app {name}",
    create: "Create", save: "Save", cancel: "Cancel", confirm: "Confirm", edit: "Edit", json: "JSON",
    jsonObject: "must be a JSON object", fixJson: "Fix the JSON first.",
    cronHint: "Quartz (0 0/5 * * * ?) by default; empty: runs only when started by hand",
    secretHint: "Keys of the environment whose values are secret: shown as ******; leave ****** to keep a value",
    runNow: "Run now", startRun: "Start the run", runEnvironment: "Environment for this run (KEY=value lines)",
    enable: "Enable", disable: "Disable", remove: "Delete",
    confirmRemove: "Delete job {name}? Its configuration is removed; its history stays.",
    confirmRemoveApp: "Delete app {name}?",
    confirmRemoveAppJobs: "Delete app {name} and its {count} job(s)? Their configuration is removed; their history stays.",
    confirmStop: "Stop run {run}? Its running shards are killed.",
    noSuchJob: "There is no job {name}.", noJobs: "No jobs yet.", noApps: "No apps yet.",
    configuration: "Configuration", schedule: "Schedule", noSchedule: "no schedule",
    neverFires: "It does not fire again.", onlyManual: "It runs only when started by hand.",
    currentTask: "Current task", idle: "idle",
    runs: "Runs", run: "Run", status: "Status", cause: "Cause", created: "Created", duration: "Duration",
    tasks: "Tasks", shard: "Shard", agent: "Agent", host: "Host", exitCode: "Exit",
    log: "Log", stream: "Stream", stdout: "stdout", stderr: "stderr", follow: "Follow", stopFollowing: "Stop following",
    from: "From", until: "Until", download: "Download",
    stopRun: "Stop run", noRuns: "No runs yet.", noLines: "No output.",
    triggered: "Run started.", removed: "Deleted.", stopped: "Stopping the run.",
    readyQueue: "Waiting to launch", failoverQueue: "Waiting to run again", waiting: "Firings", since: "Since",
    reason: "Why", notPlacedYet: "not tried yet", attempt: "Attempt", notBefore: "Not before", lastFired: "Last fired",
    nothingRunning: "Nothing runs.", nothingWaiting: "No firing waits.", nothingToRerun: "No shard waits to run again.",
    nothingMissed: "No firing was missed.",
    active: "active", goneSince: "gone since {when}", attributes: "Attributes", resources: "Resources",
    noAgents: "No agents registered.",
    path: "Path", children: "Children", noChildren: "No children.", znode: "Znode", version: "Version",
    modified: "Modified", ephemeral: "Ephemeral", size: "Size", noData: "No data.", yes: "yes", no: "no",
    history: "History", executions: "Executions", statusTraces: "State changes", started: "Started",
    finished: "Finished", failureCause: "Failure", source: "Source", time: "Time", message: "Message",
    jobNameExact: "Job name", noHistory: "No history matches.", deleteRecord: "Delete record",
    confirmDeleteRun: "Delete the record of run {run}? Its executions leave the history.",
    login: "Log in", logout: "Log out", user: "User", password: "Password",
    "role.admin": "admin", "role.operator": "operator", "role.viewer": "viewer",
    "field.jobName": "Name", "field.appName": "App", "field.description": "Description", "field.cron": "Schedule (cron)",
    "field.cronDialect": "Cron dialect", "field.timeZone": "Time zone", "field.jobExecutionType": "Execution type",
    "field.shardingTotalCount": "Shards", "field.shardingItemParameters": "Shard parameters",
    "field.jobParameter": "Job parameter", "field.cpuCount": "CPUs per shard", "field.memoryMB": "Memory per shard (MB)",
    "field.concurrencyPolicy": "Concurrency", "field.failover": "Fail over lost shards",
    "field.misfire": "Catch up missed firings", "field.shardRetryLimit": "Retries per shard",
    "field.environment": "Environment (KEY=value lines)", "field.secretEnvironment": "Secret keys (comma-separated)", "field.appURL": "App URL (tar.gz)",
    "field.bootstrapScript": "Bootstrap script", "field.appCacheEnable": "Cache the app on agents",
    "field.eventTraceSamplingCount": "Event trace sampling",
  },
  zh: {
    title: "ElasticJob", skip: "跳到内容", language: "语言",
    dashboard: "仪表盘", jobs: "作业", apps: "应用", queues: "队列", agents: "代理节点", registry: "注册中心",
    cluster: "集群", leader: "主节点", noLeader: "尚未选出主节点", resyncing: "正在重新读取状态",
    agentsGone: "{count} 个已离开", cpus: "CPU", memory: "内存",
    runningTasks: "运行中的任务", readyFirings: "待运行的触发", failoverShards: "待重新运行的分片",
    missedFirings: "错过的触发", registeredJobs: "已注册作业", registeredApps: "已注册应用",
    taskResults: "任务运行结果", lastHour: "最近一小时", lastDay: "最近 24 小时", succeeded: "成功",
    failed: "失败", noResults: "最近 24 小时没有结束的任务。",
    statisticsNotYours: "任务统计涵盖整个集群，不向限定于作业组的用户显示。",
    loading: "加载中…", empty: "暂无内容。", retry: "重试", noMatch: "没有符合条件的内容。",
    filter: "按名称筛选", allApps: "全部应用", allStates: "启用和禁用",
    name: "名称", app: "应用", group: "分组", cron: "调度", shards: "分片", type: "类型", job: "作业",
    state: "状态", enabled: "已启用", disabled: "已禁用", invalid: "无效",
    nowEnabled: "已启用。", nowDisabled: "已禁用。",
    previous: "上一页", next: "下一页", pages: "分页", pageOf: "第 {page} / {pages} 页（共 {total}）",
    newJob: "新建作业", editJob: "修改作业 {name}", newApp: "新建应用", editApp: "修改应用 {name}",
    create: "创建", save: "保存", cancel: "取消", confirm: "确认", edit: "修改", json: "JSON",
    jsonObject: "必须是 JSON 对象", fixJson: "请先修正 JSON。",
    cronHint: "默认 Quartz 格式（0 0/5 * * * ?）；留空：仅手动运行",
    secretHint: "值为机密的环境变量名：显示为 ******；保留 ****** 即保留原值",
    runNow: "立即运行", startRun: "开始运行", runEnvironment: "本次运行的环境变量（每行 KEY=value）",
    enable: "启用", disable: "禁用", remove: "删除",
    confirmRemove: "删除作业 {name}？其配置将被移除，历史记录保留。",
    confirmRemoveApp: "删除应用 {name}？",
    confirmRemoveAppJobs: "删除应用 {name} 及其 {count} 个作业？其配置将被移除，历史记录保留。",
    confirmStop: "停止运行 {run}？正在运行的分片将被终止。",
    noSuchJob: "作业 {name} 不存在。", noJobs: "还没有作业。", noApps: "还没有应用。",
    configuration: "配置", schedule: "调度", noSchedule: "无调度",
    neverFires: "不会再触发。", onlyManual: "仅手动运行。",
    currentTask: "当前任务", idle: "空闲",
    runs: "运行记录", run: "运行", status: "状态", cause: "原因", created: "创建时间", duration: "耗时",
    tasks: "任务", shard: "分片", agent: "代理节点", host: "主机", exitCode: "退出码",
    log: "日志", stream: "输出流", stdout: "标准输出", stderr: "标准错误", follow: "跟踪", stopFollowing: "停止跟踪",
    from: "从", until: "到", download: "下载",
    stopRun: "停止运行", noRuns: "还没有运行记录。", noLines: "没有输出。",
    triggered: "已开始运行。", removed: "已删除。", stopped: "正在停止运行。",
    readyQueue: "等待启动", failoverQueue: "等待重新运行", waiting: "触发数", since: "开始于",
    reason: "原因", notPlacedYet: "尚未尝试", attempt: "尝试", notBefore: "最早", lastFired: "上次触发",
    nothingRunning: "没有运行中的任务。", nothingWaiting: "没有等待的触发。", nothingToRerun: "没有等待重新运行的分片。",
    nothingMissed: "没有错过的触发。",
    active: "在线", goneSince: "已于 {when} 离开", attributes: "属性", resources: "资源",
    noAgents: "没有注册的代理节点。",
    path: "路径", children: "子节点", noChildren: "没有子节点。", znode: "节点", version: "版本",
    modified: "修改时间", ephemeral: "临时节点", size: "大小", noData: "没有数据。", yes: "是", no: "否",
    history: "历史", executions: "执行记录", statusTraces: "状态变更", started: "开始时间",
    finished: "结束时间", failureCause: "失败原因", source: "来源", time: "时间", message: "消息",
    jobNameExact: "作业名称", noHistory: "没有符合条件的历史。", deleteRecord: "删除记录",
    confirmDeleteRun: "删除运行 {run} 的记录？其执行记录将从历史中移除。",
    login: "登录", logout: "退出", user: "用户", password: "密码",
    "role.admin": "管理员", "role.operator": "操作员", "role.viewer": "只读",
    "field.jobName": "作业名称", "field.appName": "应用", "field.description": "描述", "field.cron": "调度（cron）",
    "field.cronDialect": "cron 方言", "field.timeZone": "时区", "field.jobExecutionType": "执行类型",
    "field.shardingTotalCount": "分片总数", "field.shardingItemParameters": "分片参数",
    "field.jobParameter": "作业参数", "field.cpuCount": "每分片 CPU", "field.memoryMB": "每分片内存（MB）",
    "field.concurrencyPolicy": "并发策略", "field.failover": "失效转移",
    "field.misfire": "错过补偿", "field.shardRetryLimit": "每分片重试次数",
    "field.environment": "环境变量（每行 KEY=value）", "field.secretEnvironment": "机密变量名（逗号分隔）", "field.appURL": "应用地址（tar.gz）",
    "field.bootstrapScript": "启动脚本", "field.appCacheEnable": "在代理节点缓存应用",
    "field.eventTraceSamplingCount": "事件追踪采样数",
  },
};

export const LANGUAGES = { en: "English", zh: "中文" };

function initial() {
  const saved = window.localStorage && window.localStorage.getItem("elasticjob.language");
  if (saved && TEXTS[saved]) return saved;
  const browser = (navigator.language || "en").slice(0, 2);
  return TEXTS[browser] ? browser : "en";
}

let current = initial();

export const language = () => current;

/** Switch the console's language (remembered in this browser) and re-render. */
export function setLanguage(code) {
  if (!TEXTS[code]) return;
  current = code;
  if (window.localStorage) window.localStorage.setItem("elasticjob.language", code);
  document.documentElement.lang = code;
  window.dispatchEvent(new Event("languagechange-console"));
}

/** The text of ``key``, with ``{name}`` placeholders filled from ``values``. */
export function t(key, values = {}) {
  const text = TEXTS[current][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

export const KEYS = Object.keys(TEXTS.en);
export const TABLES = TEXTS;

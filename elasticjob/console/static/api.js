// The REST API as the console uses it: JSON in, JSON out, errors as {status, message, details}.

export class ApiError extends Error {
  constructor(status, message, details = []) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

async function request(method, path, { json, text, params } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  // Sent with every call: with a session cookie, the master accepts writes only with it (no other site
  // can send it), so a forged cross-site request is refused.
  const headers = { "X-ElasticJob-Console": "1" };
  let body;
  if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
  if (text !== undefined) { headers["Content-Type"] = "text/plain"; body = text; }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (error) {
    throw new ApiError(0, `the master cannot be reached (${error.message})`);
  }
  const content = await response.text();
  let value = null;
  if (content) {
    try { value = JSON.parse(content); } catch { value = content; }
  }
  if (response.status === 401 && path !== "/auth/login") {
    window.dispatchEvent(new Event("elasticjob-logged-out"));  // the console shows its login screen
  }
  if (!response.ok) {
    const message = (value && value.message) || response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, message, (value && value.details) || []);
  }
  return value;
}

export const api = {
  get: (path, params) => request("GET", path, { params }),
  post: (path, options) => request("POST", path, options || {}),
  put: (path, options) => request("PUT", path, options || {}),
  delete: (path, options) => request("DELETE", path, options || {}),
};

/** ``name`` as one URL path segment. */
export const seg = (name) => encodeURIComponent(name);

/**
 * Follow a task's log: calls ``onLine`` with each line object as it comes (NDJSON), until the task ends
 * or ``signal`` aborts. Resolves when the stream ends.
 */
export async function followLog(taskId, stream, onLine, signal) {
  const url = `/job/tasks/${seg(taskId)}/logs?follow=true&from=-200&stream=${stream}`;
  const response = await fetch(url, { signal, headers: { "X-ElasticJob-Console": "1" } });
  if (!response.ok) throw new ApiError(response.status, (await response.json()).message);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += decoder.decode(value, { stream: true });
    const parts = pending.split("\n");
    pending = parts.pop();
    for (const part of parts) if (part.trim()) onLine(JSON.parse(part));
  }
}

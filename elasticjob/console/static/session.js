// Who uses the console, and what their role lets them do (GET /auth/me; the master enforces it, this only
// hides what would be refused). Roles: viewer reads; operator also runs, stops, enables and disables;
// admin also creates, edits and deletes.
let current = { auth: false, name: null, role: "admin", groups: null };

export function setSession(me) { current = me; }

export const session = () => current;

const ORDER = { viewer: 0, operator: 1, admin: 2 };

/** Whether the user may ``need`` ("operate" or "admin"). */
export function can(need) {
  return ORDER[current.role] >= (need === "admin" ? 2 : need === "operate" ? 1 : 0);
}

/** Whether the user sees only the jobs of some job groups (then views of the whole installation — the
 * registry, the statistics — are not theirs: the master refuses them). */
export const confined = () => Array.isArray(current.groups);

/**
 * What the kitchen-pacing screens share: a course's name, its state's words, "start in 3:20",
 * "about 25 min", and firing a table's held course once (POST /api/v1/tables/{id}/fire, one
 * action id per table and course, reused when a tap is repeated after a failure, so a lost
 * answer never fires twice).
 */
import { ApiError, formatElapsed, humanize, randomId, staffRetry } from './common.js';

export const COURSE_STATES = ['held', 'fired', 'ready', 'served'];

/** A course's name: from the menu's `courses` when it has them, else a known word, else its id. */
export function courseName(i18n, courses, id) {
  if (!id) return i18n.t('course_none');
  const found = (courses || []).find((c) => c.id === id);
  if (found?.name) return i18n.name(found.name) || id;
  const key = `course_${id}`;
  const word = i18n.t(key);
  return word === key ? humanize(id) : word;
}

/** "HELD", "Fired", "Ready", "Served". */
export const courseStateText = (i18n, state) => {
  const key = `course_state_${state}`;
  const word = i18n.t(key);
  return word === key ? String(state || '') : word;
};

/** Whole minutes, at least one: what a diner is told. */
export const minutes = (seconds) => Math.max(1, Math.round((Number(seconds) || 0) / 60));

/** "m:ss" until `atMs` (zero once passed). */
export const countdown = (atMs, nowMs) => formatElapsed(Math.ceil(Math.max(0, atMs - nowMs) / 1000));

/** A ticket's clock starts when it was fired (or placed, when it was never held). */
export const firedMs = (tk) => Number(tk.fired_ms) || Number(tk.created_ms) || Date.parse(tk.created_at) || 0;

/** When this ticket should be done: its paced due time, else fired + expected; 0: not known. */
export function dueMs(tk) {
  if (Number(tk.due_ms) > 0) return Number(tk.due_ms);
  const start = Math.max(firedMs(tk), Number(tk.start_at_ms) || 0);
  return Number(tk.expected_s) > 0 && start ? start + Number(tk.expected_s) * 1000 : 0;
}

/**
 * warn/late against what this ticket should take: warn in the last fifth of its expected
 * time (at least a minute before it is due), late once past due. Null when the ticket carries
 * no expected time (the station's fixed thresholds apply then).
 */
export function expectedState(tk, nowMs) {
  const due = dueMs(tk);
  if (!due) return null;
  const expected = Math.max(60, Number(tk.expected_s) || 0);
  if (nowMs >= due) return 'late';
  if (nowMs >= due - Math.max(60, expected * 0.2) * 1000) return 'warn';
  return 'normal';
}

/** Fires held courses; the same table and course reuse one action id until the hub answers. */
export class Firing {
  constructor({ onError = null } = {}) {
    this.ids = new Map();
    this.busy = new Set();
    this.onError = onError;
  }

  key(table, course) { return `${table}|${course || ''}`; }

  isBusy(table, course) { return this.busy.has(this.key(table, course)); }

  /** Resolves to the hub's answer; throws its ApiError (network failures keep the id). */
  async fire(table, course) {
    const key = this.key(table, course);
    if (this.busy.has(key)) return null;
    if (!this.ids.has(key)) this.ids.set(key, randomId());
    this.busy.add(key);
    try {
      const res = await staffRetry(`/api/v1/tables/${encodeURIComponent(table)}/fire`, { course: course || null, id: this.ids.get(key) }, { onError: this.onError });
      this.ids.delete(key);
      return res;
    } catch (e) {
      if (!(e instanceof ApiError && e.isNetwork)) this.ids.delete(key);
      throw e;
    } finally {
      this.busy.delete(key);
    }
  }
}

/** One task, kept live by its server-sent event stream: the task, its runner steps, its audit trail. */
import { useEffect, useState } from 'react';
import {
  ApiError,
  type AuditTrailView,
  type RunnerStep,
  type StepsStatus,
  type TaskDetailView,
  type TaskStreamEvent,
  taskEvents,
} from './api.ts';

export type TaskConnection = 'connecting' | 'streaming' | 'reconnecting' | 'ended';

export interface TaskState {
  task?: TaskDetailView;
  steps: RunnerStep[];
  stepsStatus?: StepsStatus;
  audit?: AuditTrailView;
  connection: TaskConnection;
  /** Server clock minus browser clock (ms). */
  clockOffsetMs: number;
  /** Why the stream ended for good (not found, not allowed, deleted), or why it is reconnecting. */
  problem?: string;
  /** The stream ended for good with this HTTP status (401, 403, 404). */
  status?: number;
}

const INITIAL: TaskState = { steps: [], connection: 'connecting', clockOffsetMs: 0 };

function apply(state: TaskState, event: TaskStreamEvent): TaskState {
  switch (event.type) {
    case 'task':
      return {
        ...state,
        task: event.task,
        clockOffsetMs: Date.parse(event.serverTime) - Date.now(),
      };
    case 'steps':
      // Steps are appended in order; a repeated range (after a reconnect) replaces what is there.
      return { ...state, steps: [...state.steps.slice(0, event.from), ...event.steps] };
    case 'steps-status':
      return { ...state, stepsStatus: event.status };
    case 'audit':
      return { ...state, audit: event.trail };
    case 'gone':
      return { ...state, connection: 'ended', problem: event.message };
  }
}

export function useTaskStream(namespace: string, name: string): TaskState {
  const [state, setState] = useState<TaskState>(INITIAL);

  useEffect(() => {
    const abort = new AbortController();
    setState(INITIAL);
    (async () => {
      let backoff = 500;
      while (!abort.signal.aborted) {
        let gone = false;
        try {
          let first = true;
          for await (const event of taskEvents(namespace, name, abort.signal)) {
            const fresh = first;
            first = false;
            setState((s) => {
              // A new connection starts from scratch: the server sends everything again.
              const base = fresh
                ? { ...s, steps: [], connection: 'streaming' as const, problem: undefined }
                : s;
              return apply(base, event);
            });
            backoff = 500;
            if (event.type === 'gone') gone = true;
          }
          if (abort.signal.aborted || gone) return;
          setState((s) => ({ ...s, connection: 'reconnecting', problem: 'the server ended the stream' }));
        } catch (error) {
          if (abort.signal.aborted) return;
          if (error instanceof ApiError && [401, 403, 404].includes(error.status)) {
            setState((s) => ({ ...s, connection: 'ended', problem: error.message, status: error.status }));
            return;
          }
          setState((s) => ({
            ...s,
            connection: 'reconnecting',
            problem: error instanceof Error ? error.message : String(error),
          }));
        }
        await new Promise((resolve) => setTimeout(resolve, backoff));
        backoff = Math.min(backoff * 2, 10_000);
      }
    })();
    return () => abort.abort();
  }, [namespace, name]);

  return state;
}

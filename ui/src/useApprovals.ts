/** The approvals and the task rows, kept live by the server's event stream; reconnects with backoff. */
import { useEffect, useRef, useState } from 'react';
import { ApiError, type ApprovalView, events, type StreamEvent, type TaskSummaryView } from './api.ts';

export type Connection = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

export interface ApprovalsState {
  approvals: Map<string, ApprovalView>;
  /** Task rows (namespace/name → row) of the namespaces the approver may read. */
  tasks: Map<string, TaskSummaryView>;
  connection: Connection;
  /** Server clock minus browser clock, in ms: countdowns use the server's time. */
  clockOffsetMs: number;
  /** The last reason the stream failed, for the status line. */
  problem?: string;
}

/** Called for every change after the first snapshot, to announce it. */
export type ChangeListener = (next: ApprovalView | undefined, previous: ApprovalView | undefined) => void;

function apply(map: Map<string, ApprovalView>, event: StreamEvent): Map<string, ApprovalView> {
  switch (event.type) {
    case 'snapshot':
      return new Map(event.approvals.map((a) => [a.key, a]));
    case 'upsert':
      return new Map(map).set(event.approval.key, event.approval);
    case 'delete': {
      const next = new Map(map);
      next.delete(event.key);
      return next;
    }
    default:
      return map;
  }
}

function applyTasks(map: Map<string, TaskSummaryView>, event: StreamEvent): Map<string, TaskSummaryView> {
  switch (event.type) {
    case 'snapshot':
      return new Map((event.tasks ?? []).map((t) => [t.key, t]));
    case 'task-upsert':
      return new Map(map).set(event.task.key, event.task);
    case 'task-delete': {
      const next = new Map(map);
      next.delete(event.key);
      return next;
    }
    default:
      return map;
  }
}

export function useApprovals(onChange: ChangeListener): ApprovalsState {
  const [state, setState] = useState<ApprovalsState>({
    approvals: new Map(),
    tasks: new Map(),
    connection: 'connecting',
    clockOffsetMs: 0,
  });
  const listener = useRef(onChange);
  listener.current = onChange;

  useEffect(() => {
    const abort = new AbortController();
    let current = new Map<string, ApprovalView>();
    let tasks = new Map<string, TaskSummaryView>();
    let seenSnapshot = false;

    const handle = (event: StreamEvent) => {
      const previous = current;
      current = apply(current, event);
      tasks = applyTasks(tasks, event);
      if (seenSnapshot) {
        if (event.type === 'upsert') listener.current(event.approval, previous.get(event.approval.key));
        if (event.type === 'delete') listener.current(undefined, previous.get(event.key));
        if (event.type === 'snapshot') {
          for (const [key, a] of current) {
            const before = previous.get(key);
            if (!before || before.state !== a.state) listener.current(a, before);
          }
        }
      }
      if (event.type === 'snapshot') seenSnapshot = true;
      const clockOffsetMs = Date.parse(event.serverTime) - Date.now();
      setState({ approvals: current, tasks, connection: 'live', clockOffsetMs });
    };

    (async () => {
      let backoff = 500;
      while (!abort.signal.aborted) {
        try {
          for await (const event of events(abort.signal)) {
            handle(event);
            backoff = 500;
          }
          if (abort.signal.aborted) return;
          setState((s) => ({ ...s, connection: 'reconnecting', problem: 'the server ended the stream' }));
        } catch (error) {
          if (abort.signal.aborted) return;
          if (error instanceof ApiError && error.status === 401) {
            setState((s) => ({ ...s, connection: 'unauthorized', problem: error.message }));
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
  }, []);

  return state;
}

/** Re-renders every second while mounted; returns the server-corrected time. */
export function useNow(offsetMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now + offsetMs;
}

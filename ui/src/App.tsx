/**
 * The UI: approvals (pending list + history on the left, the selected approval on the right) and tasks
 * (the task list on the left, one task's page on the right), over one live event stream.
 */
import { type ReactNode, type RefObject, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApprovalDetail } from './ApprovalDetail.tsx';
import { ApprovalList } from './ApprovalList.tsx';
import { ApiError, type ApprovalView, type TaskSummaryView, type WhoamiResponse, whoami } from './api.ts';
import { STATE_LABEL } from './format.ts';
import { PairPage } from './PairPage.tsx';
import { followLink, navigate, type Route, routePath, useRoute } from './route.ts';
import { forgetToken, hasToken } from './session.ts';
import { FINISHED_PHASES, TaskList } from './TaskList.tsx';
import { TaskPage } from './TaskPage.tsx';
import { type Connection, useApprovals, useNow } from './useApprovals.ts';

const CONNECTION_TEXT: Record<Connection, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  unauthorized: 'Not authorised',
};

function byExpiry(a: ApprovalView, b: ApprovalView) {
  return Date.parse(a.expiresAt) - Date.parse(b.expiresAt) || a.key.localeCompare(b.key);
}

function byRecency(a: ApprovalView, b: ApprovalView) {
  const t = (x: ApprovalView) => Date.parse(x.decidedAt ?? x.createdAt ?? x.expiresAt) || 0;
  return t(b) - t(a) || a.key.localeCompare(b.key);
}

function newestFirst(a: TaskSummaryView, b: TaskSummaryView) {
  return (
    (Date.parse(b.createdAt ?? '') || 0) - (Date.parse(a.createdAt ?? '') || 0) || a.key.localeCompare(b.key)
  );
}

function NoSession() {
  return (
    <main className="center">
      <h1>ClosedPaw approvals</h1>
      <p role="alert">
        No valid session. Open the exact URL the operator printed (it ends in <code>#token=…</code>); the
        token is read from the address bar once and then removed from it.
      </p>
      <p>
        Or decide from a terminal: <code>closedpaw approvals</code>, <code>closedpaw approve NAME</code>,{' '}
        <code>closedpaw deny NAME</code>.
      </p>
    </main>
  );
}

export function App() {
  if (!hasToken()) return <NoSession />;
  return <Shell />;
}

/** Escape (outside text fields) calls `onEscape`. */
function useEscape(onEscape: () => void) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // Not while typing a reason: Escape there must not throw the text away.
      const typing = e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLInputElement;
      if (e.key === 'Escape' && !typing) onEscape();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [onEscape]);
}

function ViewLink(props: { route: Route; current: boolean; children: ReactNode }) {
  return (
    <a
      href={routePath(props.route)}
      className="view-link"
      aria-current={props.current ? 'page' : undefined}
      onClick={(e) => followLink(e, props.route)}
    >
      {props.children}
    </a>
  );
}

function Shell() {
  const route = useRoute();
  const [who, setWho] = useState<WhoamiResponse | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const [announcement, setAnnouncement] = useState('');

  const onChange = useCallback((next: ApprovalView | undefined, previous: ApprovalView | undefined) => {
    if (next && !previous && next.state === 'Pending') {
      setAnnouncement(`New approval pending: task ${next.taskRef.name}, risk ${next.risk.level}.`);
    } else if (next && previous && next.state !== previous.state) {
      const by = next.decidedBy ? ` by ${next.decidedBy}` : '';
      setAnnouncement(`Task ${next.taskRef.name}: ${STATE_LABEL[next.state] ?? next.state}${by}.`);
    } else if (!next && previous) {
      setAnnouncement(`Approval for task ${previous.taskRef.name} was removed.`);
    }
  }, []);

  const { approvals, tasks, connection, clockOffsetMs, problem } = useApprovals(onChange);
  const now = useNow(clockOffsetMs);

  useEffect(() => {
    whoami().then(setWho, (error: unknown) => {
      if (error instanceof ApiError && error.status === 401) setUnauthorized(true);
    });
  }, []);

  useEffect(() => {
    if (connection === 'unauthorized') setUnauthorized(true);
  }, [connection]);

  useEffect(() => {
    if (unauthorized) forgetToken();
  }, [unauthorized]);

  const onTasks = route.page === 'tasks' || route.page === 'task';
  const title = onTasks
    ? 'ClosedPaw tasks'
    : route.page === 'pair'
      ? 'ClosedPaw pairing'
      : 'ClosedPaw approvals';
  useEffect(() => {
    document.title = route.page === 'task' ? `${route.name} · ClosedPaw tasks` : title;
  }, [route, title]);

  if (unauthorized) return <NoSession />;

  const pendingCount = [...approvals.values()].filter((a) => a.state === 'Pending').length;
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to details
      </a>
      <header className="top">
        <h1>{title}</h1>
        <nav className="views" aria-label="Views">
          <ViewLink route={{ page: 'approvals' }} current={route.page === 'approvals'}>
            Approvals <span className="count">({pendingCount} pending)</span>
          </ViewLink>
          <ViewLink route={{ page: 'tasks' }} current={onTasks}>
            Tasks <span className="count">({tasks.size})</span>
          </ViewLink>
          {who?.pairing && (
            <ViewLink route={{ page: 'pair' }} current={route.page === 'pair'}>
              Pair a chat account
            </ViewLink>
          )}
        </nav>
        <p className="who">
          {who === null ? (
            'Loading identity…'
          ) : who.approver ? (
            <>
              Deciding as <strong className="mono">{who.approver}</strong>
              {who.groups.length > 0 && (
                <>
                  {' '}
                  (groups <span className="mono">{who.groups.join(', ')}</span>)
                </>
              )}
            </>
          ) : (
            'Read-only'
          )}
        </p>
        <p className={`conn conn-${connection}`} role="status" title={problem}>
          {CONNECTION_TEXT[connection]}
        </p>
      </header>
      {who?.readOnly && who.hint && (
        <p className="banner warning" role="note">
          {who.hint}
        </p>
      )}
      <p className="sr-only" aria-live="polite" aria-atomic="true">
        {announcement}
      </p>
      {onTasks ? (
        <TasksView route={route} tasks={tasks} now={now} />
      ) : route.page === 'pair' ? (
        <PairView who={who} />
      ) : (
        <ApprovalsView approvals={approvals} now={now} who={who} />
      )}
    </div>
  );
}

function ApprovalsView(props: {
  approvals: Map<string, ApprovalView>;
  now: number;
  who: WhoamiResponse | null;
}) {
  const { approvals, now, who } = props;
  // Another page may ask for one approval to be open (the task page's link to its approval).
  const [selected, setSelected] = useState<string | null>(
    () => (history.state as { select?: unknown } | null)?.select?.toString() ?? null,
  );
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const itemRefs = useRef(new Map<string, HTMLButtonElement>());

  const { pending, history: decided } = useMemo(() => {
    const all = [...approvals.values()];
    return {
      pending: all.filter((a) => a.state === 'Pending').sort(byExpiry),
      history: all.filter((a) => a.state !== 'Pending').sort(byRecency),
    };
  }, [approvals]);

  const open = useCallback((key: string) => {
    setSelected(key);
    // Move focus to the detail heading once it is rendered.
    requestAnimationFrame(() => headingRef.current?.focus());
  }, []);

  const close = useCallback(() => {
    setSelected((key) => {
      if (key) requestAnimationFrame(() => itemRefs.current.get(key)?.focus());
      return null;
    });
  }, []);
  useEscape(close);

  const current = selected ? approvals.get(selected) : undefined;
  return (
    <div className="layout">
      <ApprovalList
        pending={pending}
        history={decided}
        selected={selected}
        now={now}
        onSelect={open}
        itemRefs={itemRefs}
      />
      <main id="main" tabIndex={-1} className="main">
        {current ? (
          <ApprovalDetail
            key={current.key}
            approval={current}
            now={now}
            approver={who?.approver ?? null}
            readOnlyHint={who?.hint}
            headingRef={headingRef}
            onClose={close}
          />
        ) : selected ? (
          <p className="empty">That approval no longer exists.</p>
        ) : (
          <p className="empty">
            {pending.length > 0
              ? 'Select a pending approval to review everything it is bound to, then approve or deny it.'
              : 'No approval waits for you. New requests appear here live.'}
          </p>
        )}
      </main>
    </div>
  );
}

function PairView(props: { who: WhoamiResponse | null }) {
  const { who } = props;
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  useEffect(() => {
    requestAnimationFrame(() => headingRef.current?.focus());
  }, []);
  return (
    <main id="main" tabIndex={-1} className="main single">
      {who === null ? (
        <p className="empty">Loading…</p>
      ) : who.pairing && who.approver ? (
        <PairPage approver={who.approver} headingRef={headingRef} />
      ) : (
        <p className="empty">
          Pairing is off here: the operator runs without approval channels, or this UI is read-only. From a
          terminal: <code>closedpaw channel pair CODE</code>.
        </p>
      )}
    </main>
  );
}

function TasksView(props: { route: Route; tasks: Map<string, TaskSummaryView>; now: number }) {
  const { route, tasks, now } = props;
  const selected = route.page === 'task' ? `${route.namespace}/${route.name}` : null;
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const itemRefs = useRef(new Map<string, HTMLAnchorElement>());

  const { active, finished } = useMemo(() => {
    const all = [...tasks.values()].sort(newestFirst);
    return {
      active: all.filter((t) => !FINISHED_PHASES.has(t.phase ?? '')),
      finished: all.filter((t) => FINISHED_PHASES.has(t.phase ?? '')),
    };
  }, [tasks]);

  // Opening a task moves focus to its heading.
  useEffect(() => {
    if (selected) requestAnimationFrame(() => headingRef.current?.focus());
  }, [selected]);

  const close = useCallback(() => {
    if (!selected) return;
    navigate({ page: 'tasks' });
    requestAnimationFrame(() => itemRefs.current.get(selected)?.focus());
  }, [selected]);
  useEscape(close);

  return (
    <div className="layout">
      <TaskList active={active} finished={finished} selected={selected} now={now} itemRefs={itemRefs} />
      <main id="main" tabIndex={-1} className="main">
        {route.page === 'task' ? (
          <TaskPage
            key={selected}
            namespace={route.namespace}
            name={route.name}
            headingRef={headingRef as RefObject<HTMLHeadingElement | null>}
            onClose={close}
          />
        ) : (
          <p className="empty">
            {tasks.size > 0
              ? 'Select a task to follow its phase, runner steps, result and audit trail.'
              : 'No tasks you may read. New tasks appear here live.'}
          </p>
        )}
      </main>
    </div>
  );
}

/** The approval UI: pending list + history on the left, the selected approval on the right. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { ApprovalDetail } from './ApprovalDetail.tsx';
import { ApprovalList } from './ApprovalList.tsx';
import { ApiError, type ApprovalView, type WhoamiResponse, whoami } from './api.ts';
import { STATE_LABEL } from './format.ts';
import { forgetToken, hasToken } from './session.ts';
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
  return <Approvals />;
}

function Approvals() {
  const [who, setWho] = useState<WhoamiResponse | null>(null);
  const [unauthorized, setUnauthorized] = useState(false);
  const [selected, setSelected] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const headingRef = useRef<HTMLHeadingElement | null>(null);
  const itemRefs = useRef(new Map<string, HTMLButtonElement>());

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

  const { approvals, connection, clockOffsetMs, problem } = useApprovals(onChange);
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

  const { pending, history } = useMemo(() => {
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

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      // Not while typing a reason: Escape there must not throw the text away.
      const typing = e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLInputElement;
      if (e.key === 'Escape' && !typing) close();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [close]);

  if (unauthorized) return <NoSession />;

  const current = selected ? approvals.get(selected) : undefined;
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to details
      </a>
      <header className="top">
        <h1>ClosedPaw approvals</h1>
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
      <div className="layout">
        <ApprovalList
          pending={pending}
          history={history}
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
    </div>
  );
}

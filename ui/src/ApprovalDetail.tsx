/** Everything the approval is bound to, an expiry countdown, and the decision form. */
import { type FormEvent, type RefObject, useId, useState } from 'react';
import type { TaskView } from '../../operator/src/server/ui/view.ts';
import { ApiError, type ApprovalView, decide } from './api.ts';
import { formatBytes, localTime, remaining, remainingSpoken, STATE_LABEL } from './format.ts';
import { Prompt } from './Prompt.tsx';
import { followLink, type Route, routePath } from './route.ts';

const CRITICAL_TOOLS = new Set(['shell', 'fs.write']);
const REASON_MAX = 1024;

interface Props {
  approval: ApprovalView;
  now: number;
  approver: string | null;
  readOnlyHint?: string;
  headingRef: RefObject<HTMLHeadingElement | null>;
  onClose(): void;
}

function Countdown({ approval: a, now }: { approval: ApprovalView; now: number }) {
  const left = Date.parse(a.expiresAt) - now;
  if (a.state !== 'Pending') {
    return <span>{localTime(a.expiresAt)}</span>;
  }
  if (left <= 0) {
    return <strong className="expired">expired at {localTime(a.expiresAt)}: counts as a denial</strong>;
  }
  return (
    <span>
      <time
        dateTime={a.expiresAt}
        className={left < 60_000 ? 'countdown urgent' : 'countdown'}
        aria-hidden="true"
      >
        {remaining(left)}
      </time>
      <span className="sr-only">in {remainingSpoken(left)}</span>{' '}
      <span className="hint">(at {localTime(a.expiresAt)}; no decision by then counts as a denial)</span>
      {a.requestedExpiresAt && (
        <span className="hint">
          {' '}
          The approval asked for {localTime(a.requestedExpiresAt)}; it is capped at creation + the operator's
          approval TTL.
        </span>
      )}
    </span>
  );
}

type Result = { ok: boolean; text: string } | null;

function DecisionForm(props: {
  approval: ApprovalView;
  task: TaskView;
  approver: string;
  onResult(result: Result): void;
}) {
  const { approval: a, task, approver, onResult: setResult } = props;
  const reasonId = useId();
  const hintId = useId();
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState<null | 'Approved' | 'Denied'>(null);

  async function submit(verdict: 'Approved' | 'Denied') {
    setBusy(verdict);
    setResult(null);
    try {
      // The digest of the task shown on this page: the server refuses if the task is not that any more.
      await decide(a, task.digest, verdict, reason.trim());
      setResult({
        ok: true,
        text:
          verdict === 'Approved'
            ? `Approved as ${approver}. The operator starts the sandbox once it sees the decision.`
            : `Denied as ${approver}. The task will not run.`,
      });
    } catch (error) {
      const prefix =
        error instanceof ApiError && error.source === 'apiserver' ? 'The API server refused: ' : '';
      setResult({ ok: false, text: prefix + (error instanceof Error ? error.message : String(error)) });
    } finally {
      setBusy(null);
    }
  }

  const onSubmit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    void submit(submitter?.value === 'Denied' ? 'Denied' : 'Approved');
  };

  return (
    <form className="decision" onSubmit={onSubmit} aria-busy={busy !== null}>
      <h3>Your decision</h3>
      <p className="hint">
        You decide as <strong>{approver}</strong>. The API server records and checks that identity; a decision
        is final.
      </p>
      <label htmlFor={reasonId}>Reason (recorded with the decision)</label>
      <textarea
        id={reasonId}
        name="reason"
        rows={3}
        maxLength={REASON_MAX}
        value={reason}
        aria-describedby={hintId}
        onChange={(e) => setReason(e.target.value)}
      />
      <p id={hintId} className="hint">
        {reason.length}/{REASON_MAX} characters
      </p>
      <div className="buttons">
        <button type="submit" name="verdict" value="Approved" className="approve" disabled={busy !== null}>
          {busy === 'Approved' ? 'Approving…' : 'Approve'}
        </button>
        <button type="submit" name="verdict" value="Denied" className="deny" disabled={busy !== null}>
          {busy === 'Denied' ? 'Denying…' : 'Deny'}
        </button>
      </div>
    </form>
  );
}

/** To the task's own page: its phase, live runner steps, result and audit trail. */
function TaskLink({ approval: a }: { approval: ApprovalView }) {
  const route: Route = { page: 'task', namespace: a.namespace, name: a.taskRef.name };
  return (
    <p className="see-task">
      <a href={routePath(route)} onClick={(e) => followLink(e, route)}>
        See this task
      </a>{' '}
      <span className="hint">(phase, live runner steps, result and audit trail)</span>
    </p>
  );
}

export function ApprovalDetail({ approval: a, now, approver, readOnlyHint, headingRef, onClose }: Props) {
  const task = a.task;
  const [result, setResult] = useState<Result>(null);
  const left = Date.parse(a.expiresAt) - now;
  const decidable = a.decidable && left > 0 && task?.digestMatches === true;
  return (
    <article className="detail" aria-labelledby="detail-heading">
      <header className="detail-header">
        <h2 id="detail-heading" ref={headingRef} tabIndex={-1}>
          Task <span className="mono">{a.taskRef.name}</span>
        </h2>
        <button type="button" className="close" onClick={onClose} aria-label="Close details (Escape)">
          Close
        </button>
      </header>
      <p className="subtitle">
        Approval{' '}
        <span className="mono">
          {a.namespace}/{a.name}
        </span>{' '}
        · <span className={`badge state-${a.state.toLowerCase()}`}>{STATE_LABEL[a.state] ?? a.state}</span>{' '}
        <span className={`badge risk-${a.risk.level}`}>risk: {a.risk.level}</span>
      </p>
      <TaskLink approval={a} />

      <dl className="facts">
        <dt>Expires</dt>
        <dd>
          <Countdown approval={a} now={now} />
        </dd>
        {(a.decidedBy || a.decision) && (
          <>
            <dt>Decision</dt>
            <dd>
              {a.decision
                ? `${a.decision.verdict} by ${a.decision.decidedBy}`
                : `${STATE_LABEL[a.state] ?? a.state} by ${a.decidedBy}`}
              {a.decidedAt
                ? ` at ${localTime(a.decidedAt)}`
                : a.state === 'Pending'
                  ? ' (operator not yet acted)'
                  : ''}
            </dd>
          </>
        )}
        {a.reason && (
          <>
            <dt>Reason</dt>
            <dd>{a.reason}</dd>
          </>
        )}
        {a.approvers && (
          <>
            <dt>Allowed deciders</dt>
            <dd>
              {[...(a.approvers.users ?? []), ...(a.approvers.groups ?? []).map((g) => `group ${g}`)].join(
                ', ',
              )}
            </dd>
          </>
        )}
      </dl>

      {a.state === 'Pending' && !a.decidable && a.blocker && (
        <p className="warning blocker" role="note">
          This approval cannot be decided: {a.blocker.message}.
        </p>
      )}

      <section aria-labelledby="risk-heading">
        <h3 id="risk-heading">Why it needs approval</h3>
        <p className="hint">Risk recomputed from the task as it is now, not taken from the approval.</p>
        <ul className="reasons">
          {a.risk.reasons.map((r) => (
            <li key={r}>{r}</li>
          ))}
        </ul>
        {a.recordedRisk && (
          <div className="recorded-risk">
            <p className="hint">
              The approval itself records risk <strong>{a.recordedRisk.level}</strong> (a claim, shown for
              reference, not trusted):
            </p>
            <ul className="reasons">
              {a.recordedRisk.reasons.map((r) => (
                <li key={r}>{r}</li>
              ))}
            </ul>
          </div>
        )}
      </section>

      <section aria-labelledby="bound-heading">
        <h3 id="bound-heading">What you are deciding on</h3>
        {!task ? (
          <p className="warning" role="note">
            The task {a.taskRef.name} cannot be read (deleted, re-created, or not the task this approval was
            made for): only the digest below is bound, and nothing can be decided.
          </p>
        ) : (
          <>
            {!task.digestMatches && (
              <p className="warning" role="note">
                The task changed after this approval was requested: what is shown below is not what this
                approval is bound to. It cannot be approved; the operator requests a new approval for the new
                spec.
              </p>
            )}
            <dl className="facts">
              <dt>Model</dt>
              <dd className="mono">{task.model}</dd>
              <dt>Runtime</dt>
              <dd className="mono">{task.runtimeClassName}</dd>
              <dt>Tools</dt>
              <dd>
                {task.tools.length === 0 ? (
                  'none'
                ) : (
                  <ul className="tools" aria-label="Tools">
                    {task.tools.map((t) => (
                      <li key={t} className={CRITICAL_TOOLS.has(t) ? 'tool critical' : 'tool'}>
                        {t}
                      </li>
                    ))}
                  </ul>
                )}
              </dd>
              <dt>Limits</dt>
              <dd>
                CPU <span className="mono">{task.resources.cpu ?? '—'}</span>, memory{' '}
                <span className="mono">{task.resources.memory ?? '—'}</span>, ephemeral storage{' '}
                <span className="mono">{task.resources.ephemeralStorage ?? '—'}</span>, timeout{' '}
                <span className="mono">{task.timeoutSeconds}s</span>
              </dd>
              <dt>Budget</dt>
              <dd>
                <span className="mono">{task.budget.modelCalls}</span> model calls,{' '}
                <span className="mono">{task.budget.tokens.toLocaleString()}</span> tokens,{' '}
                <span className="mono">{formatBytes(task.budget.bytes)}</span> through the gateway
              </dd>
              <dt>Input files</dt>
              <dd>
                {task.inputs.length === 0 ? 'none' : <span className="mono">{task.inputs.join(', ')}</span>}
              </dd>
              <dt>Approval mode</dt>
              <dd className="mono">{task.approval}</dd>
              <dt>Task phase</dt>
              <dd>{task.phase ?? '—'}</dd>
            </dl>
            <h4>Prompt</h4>
            <Prompt text={task.prompt} />
          </>
        )}
        <dl className="facts">
          <dt>Bound digest</dt>
          <dd className="mono digest">{a.taskDigest}</dd>
          {task && (
            <>
              <dt>Digest of what is shown</dt>
              <dd className="mono digest">
                {task.digest}
                {task.digestMatches ? ' (the same)' : ' (different: not what this approval is bound to)'}
              </dd>
            </>
          )}
        </dl>
      </section>

      {decidable &&
        task &&
        (approver ? (
          <DecisionForm key={a.key} approval={a} task={task} approver={approver} onResult={setResult} />
        ) : (
          <p className="warning" role="note">
            {readOnlyHint}
          </p>
        ))}
      {/* Outside the form: the form goes away once the decision arrives through the live stream. */}
      {result && (
        <p className={result.ok ? 'result ok' : 'result error'} role={result.ok ? 'status' : 'alert'}>
          {result.text}
        </p>
      )}
    </article>
  );
}

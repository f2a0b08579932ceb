/**
 * One task, live: phase, risk with its reasons, conditions with what their reasons
 * mean, the runner's steps as they happen, the result (summary, sha256, size), and
 * the task's audit trail with the log's verification status.
 */
import type { RefObject } from 'react';
import type { AuditTrailView, ConditionView, RunnerStep, StepsStatus, TaskDetailView } from './api.ts';
import { duration, formatBytes, localTime } from './format.ts';
import { Prompt, SafeText } from './Prompt.tsx';
import { followLink, type Route, routePath } from './route.ts';
import { type TaskConnection, useTaskStream } from './useTaskStream.ts';

const CONNECTION_TEXT: Record<TaskConnection, string> = {
  connecting: 'Connecting…',
  streaming: 'Updating live',
  reconnecting: 'Reconnecting…',
  ended: 'Not updating',
};

interface Props {
  namespace: string;
  name: string;
  headingRef: RefObject<HTMLHeadingElement | null>;
  onClose(): void;
}

function Facts({ task: t }: { task: TaskDetailView }) {
  const s = t.spec;
  const approval = t.status.approvalRef;
  const approvalsRoute: Route = { page: 'approvals' };
  return (
    <dl className="facts">
      <dt>Phase</dt>
      <dd>
        <span className={`phase-${(t.phase ?? 'new').toLowerCase()}`}>
          {t.phase ?? 'New (not seen by the operator yet)'}
        </span>
      </dd>
      <dt>Risk</dt>
      <dd>
        <span className={`badge risk-${t.status.risk.level}`}>{t.status.risk.level}</span>{' '}
        <span className="hint">
          {t.status.risk.level === 'unknown' ? 'not rated yet' : 'as the operator rated it'}
        </span>
        {t.status.risk.reasons.length > 0 && (
          <ul className="reasons" aria-label="Risk reasons">
            {t.status.risk.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        )}
      </dd>
      {approval && (
        <>
          <dt>Approval</dt>
          <dd>
            <a
              href={routePath(approvalsRoute)}
              onClick={(e) => followLink(e, approvalsRoute, { select: `${t.namespace}/${approval.name}` })}
              className="mono"
            >
              {approval.name}
            </a>
            {approval.expiresAt && <span className="hint"> (deadline {localTime(approval.expiresAt)})</span>}
          </dd>
        </>
      )}
      <dt>Sandbox pod</dt>
      <dd className="mono">{t.status.podName ?? '—'}</dd>
      <dt>Started</dt>
      <dd>{localTime(t.status.startTime)}</dd>
      <dt>Completed</dt>
      <dd>{localTime(t.status.completionTime)}</dd>
      <dt>Model</dt>
      <dd className="mono">{s.model}</dd>
      <dt>Runtime</dt>
      <dd className="mono">{s.runtimeClassName}</dd>
      <dt>Tools</dt>
      <dd>{s.tools.length === 0 ? 'none' : <span className="mono">{s.tools.join(', ')}</span>}</dd>
      <dt>Limits</dt>
      <dd>
        CPU <span className="mono">{s.resources.cpu ?? '—'}</span>, memory{' '}
        <span className="mono">{s.resources.memory ?? '—'}</span>, timeout{' '}
        <span className="mono">{s.timeoutSeconds}s</span>
      </dd>
      <dt>Budget</dt>
      <dd>
        <span className="mono">{s.budget.modelCalls}</span> model calls,{' '}
        <span className="mono">{s.budget.tokens.toLocaleString()}</span> tokens,{' '}
        <span className="mono">{formatBytes(s.budget.bytes)}</span>
      </dd>
      <dt>Input files</dt>
      <dd>{s.inputs.length === 0 ? 'none' : <span className="mono">{s.inputs.join(', ')}</span>}</dd>
    </dl>
  );
}

function Conditions({ conditions }: { conditions: ConditionView[] }) {
  if (conditions.length === 0) return <p className="empty">No conditions yet.</p>;
  return (
    <div className="table-wrap">
      <table className="grid conditions">
        <caption className="sr-only">Conditions, with what each reason means</caption>
        <thead>
          <tr>
            <th scope="col">Condition</th>
            <th scope="col">Reason</th>
            <th scope="col">What it means</th>
            <th scope="col">Message</th>
            <th scope="col">Since</th>
          </tr>
        </thead>
        <tbody>
          {conditions.map((c) => (
            <tr key={c.type}>
              <th scope="row" className="nowrap">
                <span className="mono">{c.type}</span>{' '}
                <span className={`cond-${c.status.toLowerCase()}`}>{c.status}</span>
              </th>
              <td className="mono nowrap">{c.reason ?? '—'}</td>
              <td>{c.meaning ?? <span className="hint">(no description for this reason)</span>}</td>
              <td>{c.message ? <SafeText text={c.message} /> : '—'}</td>
              <td>{localTime(c.lastTransitionTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function stepCells(step: RunnerStep) {
  switch (step.event) {
    case 'model':
      return {
        what: 'model call',
        details: `${step.promptTokens ?? '?'}+${step.completionTokens ?? '?'} tokens, ${step.toolCalls} tool call${step.toolCalls === 1 ? '' : 's'}`,
        time: duration(step.ms),
        outcome: <span className="ok-text">answered</span>,
      };
    case 'tool':
      return {
        what: (
          <>
            tool <span className="mono">{<SafeText text={step.tool} />}</span>
          </>
        ),
        details: (
          <>
            args{' '}
            <abbr className="mono" title={`sha256 ${step.argsSha256}`}>
              {step.argsSha256.slice(0, 12)}…
            </abbr>
            , {formatBytes(step.bytes)} out
          </>
        ),
        time: duration(step.ms),
        outcome: step.ok ? (
          <span className="ok-text">ok</span>
        ) : (
          <span className="bad-text">
            error{step.error ? ': ' : ''}
            {step.error && <SafeText text={step.error} />}
          </span>
        ),
      };
    case 'finished':
      return {
        what: 'finished',
        details: `${step.steps} steps, answer of ${formatBytes(step.bytes)}`,
        time: '—',
        outcome: <span className="ok-text">done</span>,
      };
    case 'failed':
      return {
        what: 'failed',
        details: (
          <>
            <span className="mono">{step.reason}</span>: <SafeText text={step.message} />
          </>
        ),
        time: '—',
        outcome: <span className="bad-text">failed</span>,
      };
  }
}

function stepsStatusText(status: StepsStatus | undefined, count: number): string {
  if (!status) return 'Loading…';
  const more = [
    status.truncated ? 'the log is longer than the read cap: later steps are not shown' : '',
    status.omitted ? `${status.omitted} later steps not shown` : '',
  ].filter(Boolean);
  const base =
    status.state === 'following'
      ? 'Following the pod log live.'
      : status.state === 'complete'
        ? `Complete: ${count} step${count === 1 ? '' : 's'}.`
        : status.state === 'waiting'
          ? `Waiting: ${status.message ?? 'no pod log yet'}.`
          : `Unavailable: ${status.message ?? 'the pod log cannot be read'}.`;
  const note = status.state === 'complete' && status.message ? ` ${status.message}.` : '';
  return `${base}${note}${more.length > 0 ? ` (${more.join('; ')})` : ''}`;
}

function Steps({ steps, status }: { steps: RunnerStep[]; status?: StepsStatus }) {
  return (
    <>
      <p className={status?.state === 'unavailable' ? 'warning' : 'hint'} aria-live="polite">
        {stepsStatusText(status, steps.length)}
      </p>
      {steps.length > 0 && (
        <div className="table-wrap">
          <table className="grid steps">
            <caption className="sr-only">Runner steps, in order</caption>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Step</th>
                <th scope="col">What</th>
                <th scope="col">Details</th>
                <th scope="col">Took</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {steps.map((step, i) => {
                const c = stepCells(step);
                return (
                  // biome-ignore lint/suspicious/noArrayIndexKey: steps are append-only; the index is their identity
                  <tr key={i}>
                    <td className="num">{i + 1}</td>
                    <td className="num">{'step' in step ? step.step : '—'}</td>
                    <td>{c.what}</td>
                    <td>{c.details}</td>
                    <td className="num">{c.time}</td>
                    <td>{c.outcome}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Result({ task: t }: { task: TaskDetailView }) {
  const r = t.status.result;
  if (!r) {
    return <p className="empty">{t.status.completionTime ? 'No result was recorded.' : 'No result yet.'}</p>;
  }
  const partial = new TextEncoder().encode(r.summary).length < r.bytes;
  return (
    <>
      <dl className="facts">
        <dt>sha256</dt>
        <dd className="mono digest">{r.sha256}</dd>
        <dt>Size</dt>
        <dd>
          <span className="mono">{r.bytes.toLocaleString()}</span> bytes ({formatBytes(r.bytes)})
          {partial && <span className="hint"> — the summary below is the first part only</span>}
        </dd>
      </dl>
      <Prompt text={r.summary} what="result" />
    </>
  );
}

function AuditTrail({ trail }: { trail?: AuditTrailView }) {
  if (!trail) return <p className="hint">Loading…</p>;
  if (!trail.available) return <p className="hint">{trail.message}</p>;
  const v = trail.verification;
  return (
    <>
      {v &&
        (v.ok ? (
          <p className="result ok verification">
            Audit log verified. <span className="mono">{v.message}</span>
          </p>
        ) : (
          <p className="result error verification" role="alert">
            Audit log NOT verified. <span className="mono">{v.message}</span>
          </p>
        ))}
      {v && (
        <p className="hint">
          Checked at {localTime(v.checkedAt)}
          {v.current ? '.' : '; the log has changed since, it is checked again shortly.'}
        </p>
      )}
      {trail.message && <p className="warning">{trail.message}</p>}
      {trail.events.length === 0 ? (
        <p className="empty">
          No audit events for this task{v && !v.ok ? ' in the verified part of the log' : ''}.
        </p>
      ) : (
        <>
          {trail.total > trail.events.length && (
            <p className="hint">
              The last {trail.events.length} of {trail.total} events.
            </p>
          )}
          <div className="table-wrap">
            <table className="grid audit">
              <caption className="sr-only">Audit events of this task</caption>
              <thead>
                <tr>
                  <th scope="col">Seq</th>
                  <th scope="col">Time</th>
                  <th scope="col">Event</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {trail.events.map((e) => (
                  <tr key={e.seq}>
                    <td className="num">{e.seq}</td>
                    <td>{localTime(e.time)}</td>
                    <td className="mono nowrap">{e.type}</td>
                    <td>
                      <SafeText text={e.summary} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}

export function TaskPage({ namespace, name, headingRef, onClose }: Props) {
  const s = useTaskStream(namespace, name);
  const t = s.task;
  return (
    <article className="detail" aria-labelledby="task-heading">
      <header className="detail-header">
        <h2 id="task-heading" ref={headingRef} tabIndex={-1}>
          Task <span className="mono">{name}</span>
        </h2>
        <p className={`conn task-conn task-conn-${s.connection}`} title={s.problem}>
          {CONNECTION_TEXT[s.connection]}
        </p>
        <button type="button" className="close" onClick={onClose} aria-label="Back to the task list (Escape)">
          Close
        </button>
      </header>
      {s.connection === 'ended' && s.problem && (
        <p className="warning" role="alert">
          {s.problem}
        </p>
      )}
      {!t ? (
        s.connection !== 'ended' && <p className="empty">Loading the task…</p>
      ) : (
        <>
          <p className="subtitle">
            <span className="mono">
              {t.namespace}/{t.name}
            </span>{' '}
            ·{' '}
            <span className={`badge phase-badge phase-${(t.phase ?? 'new').toLowerCase()}`}>
              {t.phase ?? 'New'}
            </span>{' '}
            <span className={`badge risk-${t.status.risk.level}`}>risk: {t.status.risk.level}</span>
          </p>
          {t.spec.invalid && (
            <p className="warning" role="note">
              The stored spec does not validate ({t.spec.invalid}); what is shown is best effort.
            </p>
          )}
          <Facts task={t} />
          <details className="prompt-box">
            <summary>Prompt ({t.spec.prompt.length.toLocaleString()} characters)</summary>
            <Prompt text={t.spec.prompt} />
          </details>

          <section aria-labelledby="conditions-heading">
            <h3 id="conditions-heading">Conditions</h3>
            <Conditions conditions={t.status.conditions} />
          </section>

          <section aria-labelledby="steps-heading">
            <h3 id="steps-heading">Runner steps</h3>
            <Steps steps={s.steps} status={s.stepsStatus} />
          </section>

          <section aria-labelledby="result-heading">
            <h3 id="result-heading">Result</h3>
            <Result task={t} />
          </section>

          <section aria-labelledby="audit-heading">
            <h3 id="audit-heading">Audit trail</h3>
            <AuditTrail trail={s.audit} />
          </section>
        </>
      )}
    </article>
  );
}

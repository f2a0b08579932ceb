/** The pending approvals (soonest expiry first) and the history of decided ones. */
import type { RefObject } from 'react';
import type { ApprovalView } from './api.ts';
import { BLOCKER_LABEL, localTime, remaining, STATE_LABEL } from './format.ts';

interface Props {
  pending: ApprovalView[];
  history: ApprovalView[];
  selected: string | null;
  now: number;
  onSelect(key: string): void;
  itemRefs: RefObject<Map<string, HTMLButtonElement>>;
}

function Item(props: {
  approval: ApprovalView;
  selected: boolean;
  now: number;
  onSelect(key: string): void;
  itemRefs: Props['itemRefs'];
}) {
  const { approval: a, selected, now } = props;
  const left = Date.parse(a.expiresAt) - now;
  const pending = a.state === 'Pending';
  const detail = pending
    ? a.decision
      ? `${a.decision.verdict} by ${a.decision.decidedBy}, waiting for the operator`
      : left <= 0
        ? 'expired, counts as denied'
        : !a.decidable && a.blocker
          ? `cannot be decided: ${BLOCKER_LABEL[a.blocker.code]}`
          : `expires in ${remaining(left)}`
    : `${STATE_LABEL[a.state] ?? a.state}${a.decidedBy ? ` by ${a.decidedBy}` : ''} · ${localTime(a.decidedAt ?? a.createdAt)}`;
  return (
    <li>
      <button
        type="button"
        className="item"
        data-key={a.key}
        aria-current={selected ? 'true' : undefined}
        onClick={() => props.onSelect(a.key)}
        ref={(el) => {
          if (el) props.itemRefs.current.set(a.key, el);
          else props.itemRefs.current.delete(a.key);
        }}
      >
        <span className="item-title">
          <span className={`badge risk-${a.risk.level}`}>{a.risk.level}</span>
          <span className="item-name">{a.taskRef.name}</span>
        </span>
        <span className="item-meta">
          {a.namespace}/{a.name}
        </span>
        <span className={`item-meta state-${a.state.toLowerCase()}`}>{detail}</span>
      </button>
    </li>
  );
}

export function ApprovalList(props: Props) {
  const { pending, history } = props;
  return (
    <nav className="lists" aria-label="Approvals">
      <section aria-labelledby="pending-heading">
        <h2 id="pending-heading">
          Pending <span className="count">({pending.length})</span>
        </h2>
        {pending.length === 0 ? (
          <p className="empty">Nothing waits for a decision.</p>
        ) : (
          <ul className="items" aria-label="Pending approvals">
            {pending.map((a) => (
              <Item key={a.key} approval={a} {...props} selected={props.selected === a.key} />
            ))}
          </ul>
        )}
      </section>
      <section aria-labelledby="history-heading">
        <h2 id="history-heading">
          History <span className="count">({history.length})</span>
        </h2>
        {history.length === 0 ? (
          <p className="empty">No decided approvals yet.</p>
        ) : (
          <ul className="items" aria-label="Decided approvals">
            {history.map((a) => (
              <Item key={a.key} approval={a} {...props} selected={props.selected === a.key} />
            ))}
          </ul>
        )}
      </section>
    </nav>
  );
}

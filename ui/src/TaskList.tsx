/** The tasks the approver may read: active ones first, then finished ones, newest first. */
import type { RefObject } from 'react';
import type { TaskSummaryView } from './api.ts';
import { age } from './format.ts';
import { followLink, type Route, routePath } from './route.ts';

/** Phases after which a task does not change any more. */
export const FINISHED_PHASES: ReadonlySet<string> = new Set([
  'Succeeded',
  'Failed',
  'TimedOut',
  'Denied',
  'Expired',
]);

interface Props {
  active: TaskSummaryView[];
  finished: TaskSummaryView[];
  selected: string | null;
  now: number;
  itemRefs: RefObject<Map<string, HTMLAnchorElement>>;
}

function Item({
  task: t,
  selected,
  now,
  itemRefs,
}: { task: TaskSummaryView } & Omit<Props, 'active' | 'finished' | 'selected'> & { selected: boolean }) {
  const route: Route = { page: 'task', namespace: t.namespace, name: t.name };
  return (
    <li>
      <a
        className="item"
        href={routePath(route)}
        data-key={t.key}
        aria-current={selected ? 'page' : undefined}
        onClick={(e) => followLink(e, route)}
        ref={(el) => {
          if (el) itemRefs.current.set(t.key, el);
          else itemRefs.current.delete(t.key);
        }}
      >
        <span className="item-title">
          <span className={`badge risk-${t.risk}`}>{t.risk}</span>
          <span className="item-name">{t.name}</span>
        </span>
        <span className="item-meta">{t.namespace}</span>
        <span className={`item-meta phase-${(t.phase ?? 'new').toLowerCase()}`}>
          {t.phase ?? 'New'} · created {age(t.createdAt, now)} ago
        </span>
      </a>
    </li>
  );
}

function Section(
  props: Omit<Props, 'active' | 'finished'> & {
    id: string;
    title: string;
    label: string;
    tasks: TaskSummaryView[];
    empty: string;
  },
) {
  const { id, title, label, tasks, empty } = props;
  return (
    <section aria-labelledby={id}>
      <h2 id={id}>
        {title} <span className="count">({tasks.length})</span>
      </h2>
      {tasks.length === 0 ? (
        <p className="empty">{empty}</p>
      ) : (
        <ul className="items" aria-label={label}>
          {tasks.map((t) => (
            <Item
              key={t.key}
              task={t}
              selected={props.selected === t.key}
              now={props.now}
              itemRefs={props.itemRefs}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

export function TaskList(props: Props) {
  return (
    <nav className="lists" aria-label="Tasks">
      <Section
        {...props}
        id="active-heading"
        title="Active"
        label="Active tasks"
        tasks={props.active}
        empty="No task is waiting or running."
      />
      <Section
        {...props}
        id="finished-heading"
        title="Finished"
        label="Finished tasks"
        tasks={props.finished}
        empty="No finished tasks."
      />
    </nav>
  );
}

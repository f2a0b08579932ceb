/**
 * Prometheus metrics named like controller-runtime / client-go's workqueue, so
 * existing dashboards and alerts carry over. All metrics live in the registry
 * passed in (use a dedicated one); label sets are pre-initialised at 0 when a
 * queue, controller or leader elector with that name is constructed.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

// controller-runtime's reconcile_time_seconds buckets.
const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];
// client-go workqueue buckets: ExponentialBuckets(10e-9, 10, 12) → 1e-8 s … 1e3 s.
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

export const RECONCILE_RESULTS = ['success', 'error', 'requeue', 'requeue_after'] as const;
export type ReconcileResultLabel = (typeof RECONCILE_RESULTS)[number];

export interface ControllerMetrics {
  reconcileTotal: Counter<'controller' | 'result'>;
  reconcileErrors: Counter<'controller'>;
  /** controller_runtime_terminal_reconcile_errors_total (TerminalError: not retried). */
  terminalReconcileErrors: Counter<'controller'>;
  reconcileTime: Histogram<'controller'>;
  maxConcurrentReconciles: Gauge<'controller'>;
  activeWorkers: Gauge<'controller'>;
  /** Queue metrics used for the queue a Controller creates itself when none is passed in. */
  queue?: QueueMetrics;
}

/** Reports the processing state of one queue to the scrape-time gauges. */
export interface QueueProbe {
  /** Seconds the longest-running in-flight item has been processing. */
  longestRunningSeconds(): number;
  /** Sum of the seconds all in-flight items have been processing. */
  unfinishedWorkSeconds(): number;
}

export interface QueueMetrics {
  depth: Gauge<'name'>;
  adds: Counter<'name'>;
  retries: Counter<'name'>;
  queueDuration: Histogram<'name'>;
  workDuration: Histogram<'name'>;
  longestRunningProcessor: Gauge<'name'>;
  unfinishedWork: Gauge<'name'>;
  /** Queues register here so the two gauges above are computed at scrape time. */
  probes: Map<string, QueueProbe>;
}

export interface RuntimeMetrics {
  controller: ControllerMetrics;
  queue: QueueMetrics;
  leader: Gauge<'name'>;
}

export function createRuntimeMetrics(registry: Registry): RuntimeMetrics {
  const registers = [registry];
  const probes = new Map<string, QueueProbe>();
  const queue: QueueMetrics = {
    probes,
    depth: new Gauge({
      name: 'workqueue_depth',
      help: 'Current depth of workqueue',
      labelNames: ['name'],
      registers,
    }),
    adds: new Counter({
      name: 'workqueue_adds_total',
      help: 'Total number of adds handled by workqueue',
      labelNames: ['name'],
      registers,
    }),
    retries: new Counter({
      name: 'workqueue_retries_total',
      help: 'Total number of retries handled by workqueue',
      labelNames: ['name'],
      registers,
    }),
    queueDuration: new Histogram({
      name: 'workqueue_queue_duration_seconds',
      help: 'How long in seconds an item stays in workqueue before being requested',
      labelNames: ['name'],
      buckets: WORKQUEUE_BUCKETS,
      registers,
    }),
    workDuration: new Histogram({
      name: 'workqueue_work_duration_seconds',
      help: 'How long in seconds processing an item from workqueue takes',
      labelNames: ['name'],
      buckets: WORKQUEUE_BUCKETS,
      registers,
    }),
    longestRunningProcessor: new Gauge({
      name: 'workqueue_longest_running_processor_seconds',
      help: 'How many seconds has the longest running processor for workqueue been running',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [name, probe] of probes) this.set({ name }, probe.longestRunningSeconds());
      },
    }),
    unfinishedWork: new Gauge({
      name: 'workqueue_unfinished_work_seconds',
      help: 'How many seconds of work has been done that is in progress and has not been observed by work_duration',
      labelNames: ['name'],
      registers,
      collect() {
        for (const [name, probe] of probes) this.set({ name }, probe.unfinishedWorkSeconds());
      },
    }),
  };
  const controller: ControllerMetrics = {
    queue,
    reconcileTotal: new Counter({
      name: 'controller_runtime_reconcile_total',
      help: 'Total number of reconciliations per controller',
      labelNames: ['controller', 'result'],
      registers,
    }),
    reconcileErrors: new Counter({
      name: 'controller_runtime_reconcile_errors_total',
      help: 'Total number of reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    terminalReconcileErrors: new Counter({
      name: 'controller_runtime_terminal_reconcile_errors_total',
      help: 'Total number of terminal reconciliation errors per controller',
      labelNames: ['controller'],
      registers,
    }),
    reconcileTime: new Histogram({
      name: 'controller_runtime_reconcile_time_seconds',
      help: 'Length of time per reconciliation per controller',
      labelNames: ['controller'],
      buckets: RECONCILE_BUCKETS,
      registers,
    }),
    maxConcurrentReconciles: new Gauge({
      name: 'controller_runtime_max_concurrent_reconciles',
      help: 'Maximum number of concurrent reconciles per controller',
      labelNames: ['controller'],
      registers,
    }),
    activeWorkers: new Gauge({
      name: 'controller_runtime_active_workers',
      help: 'Number of currently used workers per controller',
      labelNames: ['controller'],
      registers,
    }),
  };
  const leader = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. "name" is the string used to identify the lease.',
    labelNames: ['name'],
    registers,
  });
  return { controller, queue, leader };
}

/** Pre-initialises every label set of one queue at 0. */
export function initQueueMetrics(m: QueueMetrics, name: string): void {
  m.depth.set({ name }, 0);
  m.adds.inc({ name }, 0);
  m.retries.inc({ name }, 0);
  m.queueDuration.zero({ name });
  m.workDuration.zero({ name });
  m.longestRunningProcessor.set({ name }, 0);
  m.unfinishedWork.set({ name }, 0);
}

/** Pre-initialises every label set of one controller at 0. */
export function initControllerMetrics(m: ControllerMetrics, controller: string, workers: number): void {
  for (const result of RECONCILE_RESULTS) m.reconcileTotal.inc({ controller, result }, 0);
  m.reconcileErrors.inc({ controller }, 0);
  m.terminalReconcileErrors.inc({ controller }, 0);
  m.reconcileTime.zero({ controller });
  m.maxConcurrentReconciles.set({ controller }, workers);
  m.activeWorkers.set({ controller }, 0);
}

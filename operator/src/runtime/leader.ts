/**
 * Leader election on a coordination.k8s.io/v1 Lease, following client-go's leaderelection:
 *
 * - a candidate creates the Lease, or takes it over when it is released (empty holder) or
 *   expired; every write carries the resourceVersion it read, so concurrent candidates
 *   race on optimistic concurrency and exactly one wins;
 * - "expired" is judged on the local clock: the holder's lease has expired when its record
 *   (resourceVersion) has not changed for leaseDurationSeconds since we last saw it change,
 *   so clock skew between replicas does not matter;
 * - the leader renews every retryPeriod; when no renewal succeeded for renewDeadline (each
 *   request is bounded by what is left of it), or another holder is seen, leadership is lost:
 *   `onStoppedLeading` is called and `run()` resolves. Stop your controllers (or exit) there;
 *   the elector does not campaign again;
 * - `stop()` releases the lease (empty holder, leaseDurationSeconds 1) so a successor takes over
 *   at its next retry. It does NOT call `onStoppedLeading`: stop your controllers first, then
 *   call `stop()`, so the successor never overlaps with in-flight work.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Gauge } from 'prom-client';
import { isConflict, isNotFound } from '../k8s/errors.ts';
import { type KubeConnection, RestClient } from '../k8s/rest.ts';

export interface LeaderElectorOptions {
  kubeConfig: KubeConnection;
  namespace: string;
  name: string;
  identity: string;
  /** How long a lease is valid without renewal (15000). */
  leaseDurationMs?: number;
  /** The leader gives up when it could not renew for this long (10000). */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts (2000). */
  retryPeriodMs?: number;
  logger: Logger;
  onStartedLeading: () => void | Promise<void>;
  onStoppedLeading: () => void;
  /** leader_election_master_status{name} */
  leaderGauge?: Gauge<'name'>;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [k: string]: unknown;
}

interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: LeaseSpec;
}

type Attempt = 'ok' | 'held' | 'failed';

/** metav1.MicroTime wants exactly six fractional digits. */
const microTime = (d = new Date()): string => d.toISOString().replace(/Z$/, '000Z');

export class LeaderElector {
  private readonly opts: LeaderElectorOptions;
  private readonly rest: RestClient;
  private readonly logger: Logger;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly path: string;
  private readonly stopController = new AbortController();
  private leader = false;
  private stopped = false;
  private lease: Lease | undefined;
  private observedVersion: string | undefined;
  private observedAt = 0;
  private runPromise: Promise<void> | undefined;

  constructor(opts: LeaderElectorOptions) {
    this.opts = opts;
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!opts.identity) throw new Error('leader election: identity must not be empty');
    if (this.leaseDurationMs <= this.renewDeadlineMs) {
      throw new Error('leader election: leaseDurationMs must be greater than renewDeadlineMs');
    }
    if (this.renewDeadlineMs <= this.retryPeriodMs * 1.2) {
      throw new Error('leader election: renewDeadlineMs must be greater than 1.2 × retryPeriodMs');
    }
    this.rest = new RestClient(opts.kubeConfig);
    this.logger = opts.logger.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    this.path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases/${encodeURIComponent(opts.name)}`;
    opts.leaderGauge?.set({ name: opts.name }, 0);
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Campaigns until leading, then renews; resolves when leadership is lost or stop() was called. */
  run(): Promise<void> {
    this.runPromise ??= this.campaign();
    return this.runPromise;
  }

  /** Stops campaigning/renewing and releases the lease if held. */
  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.stopController.abort(new Error('leader elector stopped'));
    }
    await this.runPromise;
    if (this.leader) {
      await this.release();
      this.setLeader(false);
    }
  }

  private setLeader(leader: boolean): void {
    this.leader = leader;
    this.opts.leaderGauge?.set({ name: this.opts.name }, leader ? 1 : 0);
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopController.signal }).catch(() => undefined);
  }

  private async campaign(): Promise<void> {
    this.logger.info('attempting to acquire leader lease');
    while (!this.stopped) {
      if ((await this.tryAcquireOrRenew(this.renewDeadlineMs)) === 'ok') break;
      await this.pause(this.retryPeriodMs * (1 + Math.random() * 1.2));
    }
    if (this.stopped) return;
    this.setLeader(true);
    this.logger.info('acquired leader lease');
    let startFailure: unknown;
    const started = Promise.resolve()
      .then(() => this.opts.onStartedLeading())
      .catch((err: unknown) => {
        startFailure = err ?? new Error('onStartedLeading failed');
        this.logger.error({ err }, 'onStartedLeading failed: releasing the lease');
        this.stopController.abort(new Error('onStartedLeading failed'));
      });
    void started;
    let lastRenew = performance.now();
    const going = () => !this.stopped && startFailure === undefined;
    while (going()) {
      await this.pause(this.retryPeriodMs);
      let renewed = false;
      let held = false;
      while (going()) {
        const left = lastRenew + this.renewDeadlineMs - performance.now();
        if (left <= 0) break;
        const attemptStart = performance.now();
        const attempt = await this.tryAcquireOrRenew(left);
        if (attempt === 'ok') {
          renewed = true;
          lastRenew = attemptStart;
          break;
        }
        if (attempt === 'held') {
          held = true;
          break;
        }
        await this.pause(
          Math.min(this.retryPeriodMs, Math.max(0, lastRenew + this.renewDeadlineMs - performance.now())),
        );
      }
      if (startFailure !== undefined) {
        await this.release();
        this.setLeader(false);
        this.stopped = true;
        this.callStopped();
        return;
      }
      if (this.stopped) return;
      if (!renewed) {
        this.setLeader(false);
        this.lease = undefined;
        const why = held ? 'another holder took the lease' : 'no successful renewal within renewDeadline';
        this.logger.error({ why }, 'leadership lost');
        this.callStopped();
        return;
      }
    }
  }

  /** Writes the Lease (create or update) and records what the API server answered. */
  private async writeLease(
    method: 'PUT' | 'POST',
    path: string,
    body: Lease,
    signal: AbortSignal,
    timeoutMs: number,
  ) {
    this.lease = await this.rest.request<Lease>(path, { method, body, signal, timeoutMs });
    this.observe(this.lease);
  }

  /** One attempt: fast-path renew of our cached lease, else read → create / take over / renew. */
  private async tryAcquireOrRenew(timeoutMs: number): Promise<Attempt> {
    const deadline = performance.now() + timeoutMs;
    const left = () => Math.max(1, deadline - performance.now());
    const signal = this.stopController.signal;
    const me = this.opts.identity;
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    try {
      if (this.leader && this.lease?.spec?.holderIdentity === me) {
        try {
          const body: Lease = { ...this.lease, spec: { ...this.lease.spec, renewTime: microTime() } };
          await this.writeLease('PUT', this.path, body, signal, left());
          return 'ok';
        } catch (err) {
          if (this.stopped) return 'failed';
          this.logger.debug({ err: (err as Error).message }, 'fast-path renew failed, re-reading the lease');
          this.lease = undefined;
          if (performance.now() >= deadline) return 'failed';
        }
      }
      let current: Lease;
      try {
        current = await this.rest.request<Lease>(this.path, { signal, timeoutMs: left() });
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const now = microTime();
        const body: Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.opts.name, namespace: this.opts.namespace },
          spec: {
            holderIdentity: me,
            leaseDurationSeconds: durationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        };
        const collection = this.path.slice(0, this.path.lastIndexOf('/'));
        await this.writeLease('POST', collection, body, signal, left());
        return 'ok';
      }
      this.observe(current);
      const spec = current.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const validMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
      if (holder !== '' && holder !== me && this.observedAt + validMs > performance.now()) {
        return 'held';
      }
      if (holder !== me && this.leader) return 'held'; // we were leading and someone else took over
      const now = microTime();
      const body: Lease = {
        ...current,
        spec: {
          ...spec,
          holderIdentity: me,
          leaseDurationSeconds: durationSeconds,
          renewTime: now,
          ...(holder === me ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
        },
      };
      await this.writeLease('PUT', this.path, body, signal, left());
      if (holder !== me) this.logger.info({ previousHolder: holder || undefined }, 'took over the lease');
      return 'ok';
    } catch (err) {
      if (!this.stopped) {
        const level = isConflict(err) ? 'debug' : 'warn';
        this.logger[level]({ err: (err as Error).message }, 'lease acquire/renew attempt failed');
      }
      return 'failed';
    }
  }

  private callStopped(): void {
    try {
      this.opts.onStoppedLeading();
    } catch (err) {
      this.logger.error({ err }, 'onStoppedLeading threw');
    }
  }

  private observe(lease: Lease): void {
    const version = lease.metadata?.resourceVersion;
    if (version !== this.observedVersion) {
      this.observedVersion = version;
      this.observedAt = performance.now();
    }
  }

  /** Empties the holder so a successor need not wait for expiry (client-go's ReleaseOnCancel). */
  private async release(): Promise<void> {
    const me = this.opts.identity;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const current =
          this.lease ?? (await this.rest.request<Lease>(this.path, { timeoutMs: this.renewDeadlineMs }));
        if (current.spec?.holderIdentity !== me) return;
        const now = microTime();
        const body: Lease = {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            renewTime: now,
            acquireTime: now,
          },
        };
        await this.rest.request(this.path, { method: 'PUT', body, timeoutMs: this.renewDeadlineMs });
        this.lease = undefined;
        this.logger.info('released leader lease');
        return;
      } catch (err) {
        this.lease = undefined;
        if (!isConflict(err)) {
          this.logger.warn({ err: (err as Error).message }, 'failed to release the lease');
          return;
        }
      }
    }
  }
}

/** createAccessReview with a fake `post`: what it asks the API server, how it caches, how it fails closed. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAccessReview, SUBJECT_ACCESS_REVIEW_PATH } from './access.ts';

interface Review {
  spec: {
    user: string;
    groups: string[];
    resourceAttributes: { namespace: string; group: string; resource: string; verb: string };
  };
}

/** A fake API server: `rules` says which (namespace, verb resource) the subject may do. */
function fakeApi(rules: Record<string, string[]>, answer?: (r: Review) => unknown) {
  const calls: Array<{ path: string; body: Review }> = [];
  const post = async (path: string, body: unknown) => {
    const review = body as Review;
    calls.push({ path, body: review });
    if (answer) return answer(review);
    const a = review.spec.resourceAttributes;
    return { status: { allowed: (rules[a.namespace] ?? []).includes(`${a.verb} ${a.resource}`) } };
  };
  return { post, calls };
}

const BOTH = ['list approvals', 'get agenttasks'];

describe('createAccessReview', () => {
  test('asks a SubjectAccessReview for the user and groups: list approvals and get agenttasks', async () => {
    const api = fakeApi({ 'team-a': BOTH });
    const access = createAccessReview({ post: api.post, user: 'alice', groups: ['approvers'] });
    assert.equal(await access.canRead('team-a'), true);
    assert.equal(api.calls.length, 2);
    for (const call of api.calls) {
      assert.equal(call.path, SUBJECT_ACCESS_REVIEW_PATH);
      assert.equal(call.body.spec.user, 'alice');
      assert.deepEqual(call.body.spec.groups, ['approvers', 'system:authenticated']);
      assert.equal(call.body.spec.resourceAttributes.namespace, 'team-a');
      assert.equal(call.body.spec.resourceAttributes.group, 'closedpaw.dev');
    }
    assert.deepEqual(
      api.calls
        .map((c) => `${c.body.spec.resourceAttributes.verb} ${c.body.spec.resourceAttributes.resource}`)
        .sort(),
      ['get agenttasks', 'list approvals'],
    );
  });

  const cases: Array<[string, Record<string, string[]>, boolean]> = [
    ['both allowed', { ns: BOTH }, true],
    ['approvals only (the prompt lives in the task)', { ns: ['list approvals'] }, false],
    ['tasks only', { ns: ['get agenttasks'] }, false],
    ['nothing', {}, false],
  ];
  for (const [name, rules, expected] of cases) {
    test(name, async () => {
      const access = createAccessReview({ post: fakeApi(rules).post, user: 'alice' });
      assert.equal(await access.canRead('ns'), expected);
    });
  }

  test('only a clear "allowed: true" counts (fail closed on odd answers)', async () => {
    const answers: unknown[] = [
      {},
      null,
      { status: {} },
      { status: { allowed: 'true' } },
      { status: { allowed: true, denied: true } },
    ];
    for (const answer of answers) {
      const access = createAccessReview({ post: fakeApi({}, () => answer).post, user: 'alice' });
      assert.equal(await access.canRead('ns'), false, JSON.stringify(answer));
    }
  });

  test('answers are cached per namespace for the TTL, then asked again', async () => {
    let t = 0;
    const rules: Record<string, string[]> = { a: BOTH };
    const api = fakeApi(rules);
    const access = createAccessReview({ post: api.post, user: 'alice', ttlMs: 30_000, now: () => t });
    assert.equal(await access.canRead('a'), true);
    assert.equal(await access.canRead('a'), true);
    assert.equal(await access.canRead('b'), false);
    assert.equal(api.calls.length, 4, 'one review (two checks) per namespace');
    rules.a = [];
    t += 29_999;
    assert.equal(await access.canRead('a'), true, 'still cached');
    t += 2;
    assert.equal(await access.canRead('a'), false, 'revoked RBAC is seen after the TTL');
    assert.equal(api.calls.length, 6);
  });

  test('concurrent questions share one review', async () => {
    const api = fakeApi({ a: BOTH });
    const access = createAccessReview({ post: api.post, user: 'alice' });
    const answers = await Promise.all([access.canRead('a'), access.canRead('a'), access.canRead('a')]);
    assert.deepEqual(answers, [true, true, true]);
    assert.equal(api.calls.length, 2);
  });

  test('an error means not readable, is reported, and is retried after a short time', async () => {
    let t = 0;
    let failing = true;
    const errors: string[] = [];
    const api = fakeApi({ a: BOTH });
    const access = createAccessReview({
      post: async (path, body) => {
        if (failing) throw new Error('connection refused');
        return await api.post(path, body);
      },
      user: 'alice',
      errorTtlMs: 5_000,
      now: () => t,
      onError: (ns, e) => errors.push(`${ns}: ${(e as Error).message}`),
    });
    assert.equal(await access.canRead('a'), false);
    assert.deepEqual(errors, ['a: connection refused']);
    failing = false;
    t += 4_000;
    assert.equal(await access.canRead('a'), false, 'the failure is remembered briefly');
    t += 1_001;
    assert.equal(await access.canRead('a'), true);
  });

  test('through a canI function (ClusterClient.canI): same questions, strict true only', async () => {
    const asked: string[] = [];
    const access = createAccessReview({
      canI: async (who, a) => {
        asked.push(`${who.user}[${who.groups.join(',')}] ${a.verb} ${a.resource} in ${a.namespace}`);
        return (a.namespace === 'a') as boolean;
      },
      user: 'alice',
      groups: ['approvers'],
    });
    assert.equal(await access.canRead('a'), true);
    assert.equal(await access.canRead('b'), false);
    assert.deepEqual(asked.sort(), [
      'alice[approvers,system:authenticated] get agenttasks in a',
      'alice[approvers,system:authenticated] get agenttasks in b',
      'alice[approvers,system:authenticated] list approvals in a',
      'alice[approvers,system:authenticated] list approvals in b',
    ]);
  });

  test('needs a user and a way to reach the API server', () => {
    assert.throws(() => createAccessReview({ user: 'alice' } as never), /needs `post` or `canI`/);
    assert.throws(() => createAccessReview({ post: fakeApi({}).post, user: '' }), /needs the approver user/);
  });
});

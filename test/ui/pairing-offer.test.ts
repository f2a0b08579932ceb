/**
 * The operator's own UI offers chat pairing exactly when approval channels are configured, and confirms a
 * code as its approver, not as the operator: with no pairing rights granted to the approver, the API server
 * refuses the ChannelPairing naming the approver. (The whole pairing through the UI, with a chat stand-in
 * redeeming the code, is in test/channels/pairing-relay.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createTestNamespace, deleteNamespace, kubeConfig } from '../support/kube.ts';
import { UI_APPROVER } from '../support/operator-identity.ts';
import { freePort, newUiToken, type OperatorWithUi, startOperatorWithUi, uiRequest } from './support.ts';

const kc = kubeConfig();
const token = newUiToken();
let ns = '';
let running: OperatorWithUi | undefined;

before(async () => {
  ns = await createTestNamespace('ui-pairing');
});

after(async () => {
  await running?.stop();
  await deleteNamespace(ns);
});

/** An operator with its UI (the previous one stopped: one operator per namespace at a time). */
async function operatorUi(env: Record<string, string>): Promise<number> {
  await running?.stop();
  const port = await freePort();
  running = await startOperatorWithUi(kc, ns, { port, token, approver: UI_APPROVER, env });
  return port;
}

test('channels off: the UI offers no pairing and refuses a code with what to change', async () => {
  const port = await operatorUi({});
  assert.equal(
    ((await uiRequest(port, token, 'GET', '/api/whoami')).body as { pairing: boolean }).pairing,
    false,
  );
  const res = await uiRequest(port, token, 'POST', '/api/pairings', { code: 'ABCD-EFGH' });
  assert.equal(res.status, 404);
  assert.match((res.body as { error: string }).error, /CLOSEDPAW_CHANNELS/);
});

test('channels on: the UI offers pairing and creates the confirmation as its approver', async () => {
  const port = await operatorUi({
    CLOSEDPAW_CHANNELS: 'telegram',
    CLOSEDPAW_CHANNELS_ADDR: '127.0.0.1:0',
    CLOSEDPAW_CHANNEL_USERS: UI_APPROVER,
    // Never contacted: the channels have no bot token in the vault and stay off; the UI still pairs.
    CLOSEDPAW_TELEGRAM_API_URL: 'http://127.0.0.1:9',
    CLOSEDPAW_TELEGRAM_CHAT_ID: '-100123',
  });
  assert.equal(
    ((await uiRequest(port, token, 'GET', '/api/whoami')).body as { pairing: boolean }).pairing,
    true,
  );
  const res = await uiRequest(port, token, 'POST', '/api/pairings', { code: 'ABCD-EFGH' });
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.deepEqual(Object.keys(res.body as object).sort(), ['error', 'source']);
  assert.equal((res.body as { source: string }).source, 'apiserver');
  assert.match(
    (res.body as { error: string }).error,
    new RegExp(`User "${UI_APPROVER}" cannot create resource "channelpairings"`),
  );
});

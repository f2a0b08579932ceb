import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, test } from 'node:test';
import { KubeApiError } from '../../k8s/rest.ts';
import { type OpenApiPath, type PodLogChunks, podLogPath, podLogReader } from './pod-log.ts';

/** A response as node:http gives it: a readable stream with a status code. */
function response(status: number, body?: string): IncomingMessage & PassThrough {
  const res = new PassThrough() as PassThrough & IncomingMessage;
  res.statusCode = status;
  if (body !== undefined) res.end(body);
  return res;
}

function recordingOpen(res: IncomingMessage) {
  const calls: Array<{ path: string; query: Record<string, unknown> }> = [];
  const open: OpenApiPath = async (path, query) => {
    calls.push({ path, query });
    return res;
  };
  return { calls, open };
}

async function text(stream: PodLogChunks): Promise<string> {
  let out = '';
  for await (const chunk of stream) out += Buffer.from(chunk).toString('utf8');
  return out;
}

describe('podLogReader', () => {
  test('asks pods/log for the agent container, capped, following only when asked', async () => {
    for (const follow of [false, true]) {
      const { calls, open } = recordingOpen(response(200, 'line\n'));
      const read = podLogReader(open);
      const stream = await read('team-a', 'job-agent', {
        follow,
        limitBytes: 4096,
        signal: new AbortController().signal,
      });
      assert.equal(await text(stream), 'line\n');
      assert.deepEqual(calls, [
        {
          path: '/api/v1/namespaces/team-a/pods/job-agent/log',
          query: { container: 'agent', limitBytes: 4096, ...(follow ? { follow: true } : {}) },
        },
      ]);
    }
  });

  test('names are path-encoded', () => {
    assert.equal(podLogPath('a/b', 'c?d'), '/api/v1/namespaces/a%2Fb/pods/c%3Fd/log');
  });

  test("a refusal rejects with the API server's code and message", async () => {
    const status = {
      kind: 'Status',
      code: 400,
      reason: 'BadRequest',
      message: 'container "agent" in pod "job-agent" is waiting to start: ContainerCreating',
    };
    const { open } = recordingOpen(response(400, JSON.stringify(status)));
    const read = podLogReader(open);
    await assert.rejects(
      read('team-a', 'job-agent', { follow: true, limitBytes: 10, signal: new AbortController().signal }),
      (error: unknown) =>
        error instanceof KubeApiError && error.code === 400 && /waiting to start/.test(error.message),
    );
    const notFound = podLogReader(recordingOpen(response(404, 'pods "x" not found')).open);
    await assert.rejects(
      notFound('team-a', 'x', { follow: false, limitBytes: 10, signal: new AbortController().signal }),
      (error: unknown) => error instanceof KubeApiError && error.code === 404,
    );
  });

  test('the signal ends a followed stream', async () => {
    const res = response(200);
    res.write('first\n');
    const abort = new AbortController();
    const stream = await podLogReader(recordingOpen(res).open)('ns', 'p', {
      follow: true,
      limitBytes: 1024,
      signal: abort.signal,
    });
    const chunks: string[] = [];
    await assert.rejects(async () => {
      for await (const chunk of stream) {
        chunks.push(Buffer.from(chunk).toString());
        abort.abort();
      }
    });
    assert.deepEqual(chunks, ['first\n']);
    assert.equal(res.destroyed, true);
  });

  test('a limit that is not a positive integer is refused before any request', async () => {
    const { calls, open } = recordingOpen(response(200, ''));
    for (const limitBytes of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        podLogReader(open)('ns', 'p', { follow: false, limitBytes, signal: new AbortController().signal }),
        /limitBytes must be a positive integer/,
      );
    }
    assert.equal(calls.length, 0);
  });
});

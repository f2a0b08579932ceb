import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findSecrets } from './secrets.ts';

describe('findSecrets finds and redacts secret-shaped strings', () => {
  const jwt =
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
  const cases: [string, string, string, string][] = [
    ['aws-access-key', 'key=AKIAIOSFODNN7EXAMPLE;', 'aws-access-key', 'key=[REDACTED:aws-access-key];'],
    [
      'aws-secret-key',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'aws-secret-key',
      'aws_secret_access_key = [REDACTED:aws-secret-key]',
    ],
    ['jwt', `token ${jwt} end`, 'jwt', 'token [REDACTED:jwt] end'],
    [
      'bearer',
      'Authorization: Bearer 9f8e7d6c5b4a39281706abcdefGHIJ',
      'bearer-token',
      'Authorization: Bearer [REDACTED:bearer-token]',
    ],
    ['github', 'GH=ghp_0123456789abcdefghijABCDEFGHIJ012345', 'github-token', 'GH=[REDACTED:github-token]'],
    [
      'slack',
      'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx',
      'slack-token',
      '[REDACTED:slack-token]',
    ],
    [
      'openai',
      'OPENAI_API_KEY=sk-proj-Abc123Def456Ghi789Jkl012Mno345',
      'openai-api-key',
      'OPENAI_API_KEY=[REDACTED:openai-api-key]',
    ],
    [
      'anthropic',
      'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789',
      'anthropic-api-key',
      '[REDACTED:anthropic-api-key]',
    ],
    ['stripe', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', 'stripe-key', '[REDACTED:stripe-key]'],
    ['google', 'AIzaSyA-1234567890abcdefghijklmnopqrstu', 'google-api-key', '[REDACTED:google-api-key]'],
    [
      'url password',
      'postgres://app:s3cr3t-Pass@db.internal:5432/app',
      'password-in-url',
      'postgres://app:[REDACTED:password-in-url]@db.internal:5432/app',
    ],
    [
      'assignment',
      'password = "Tr0ub4dor&3xyz"',
      'secret-assignment',
      'password = "[REDACTED:secret-assignment]"',
    ],
    [
      'private key',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\nrest',
      'private-key',
      '[REDACTED:private-key]\nrest',
    ],
    [
      'cut private key',
      'x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXkt',
      'private-key',
      'x [REDACTED:private-key]',
    ],
  ];
  for (const [name, input, kind, redacted] of cases)
    test(name, () => assert.deepEqual(findSecrets(input), { redacted, found: [kind] }));

  test('several kinds are listed once each, in order of first appearance', () => {
    const r = findSecrets(`AKIAIOSFODNN7EXAMPLE ${jwt} AKIAI44QH8DHBEXAMPLE`);
    assert.deepEqual(r.found, ['jwt', 'aws-access-key']);
    assert.ok(!r.redacted.includes('AKIA'));
  });
});

describe('findSecrets leaves ordinary code and digests alone', () => {
  const cases = [
    'sha256: 02d20bbd7e394ad5999a4cebabac9619732c343a4cac99470c03e23ba2bdc2bc',
    'commit 917544888a55d1c0a8a5c0d1a2b3c4d5e6f70812',
    'id = "0b6f2c9e-4d1a-4c7e-9a51-000000000042"',
    'api_key=os.environ["ANTHROPIC_API_KEY"]',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell-style placeholder, not a template
    'password = "${DB_PASSWORD}"',
    'api_key = "YOUR_API_KEY_HERE"',
    'secret = "changeme"',
    'Authorization: Bearer <token>',
    'https://user@example.com/path',
    'the task-based approach and sk-learn are fine',
    'integrity="sha384-oqVuAfXRKap7fdgcCY5uykM6+R9GqQ8K/uxy9rx7HNQlGYl1kPzQho1wx4JwY8wC"',
  ];
  for (const text of cases)
    test(text, () => assert.deepEqual(findSecrets(text), { redacted: text, found: [] }));
});

test('any input gets an answer: empty, lone surrogates, 1 MB', () => {
  assert.deepEqual(findSecrets(''), { redacted: '', found: [] });
  assert.equal(findSecrets('a\ud800').redacted, 'a\ufffd');
  assert.equal(findSecrets('-----BEGIN PRIVATE KEY-----'.repeat(40_000)).found.length, 1);
  assert.equal(findSecrets('Bearer '.repeat(150_000)).found.length, 0);
});

/**
 * The console's log (lib/log.ts) and the engine's (engine/log/engine-log.ts), both pino through engine/log/logger.ts
 * with the one redaction list: secrets given to either — a password, an API key, a session cookie, a private key, an
 * Authorization header, as fields at any depth and inside a message — are not in any of the files the logger wrote
 * (read back from disk after rotation by size); the fields around them are, so the test would see a lost line.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { generateKeyPairSync } from 'node:crypto';
import { closeConsoleLog, consoleLogFile, log, openConsoleLogFile } from './log.ts';
import { createEngineLog } from '../engine/log/engine-log.ts';
import type { LogFn } from '../engine/log/logger.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-log-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const PASSWORD = 'Hunter2-correct-horse';
const API_KEY = 'fk_9f8e7d6c5b4a39281706';
const SESSION = 'fulcrum_session=s3ss10n-0123456789abcdef';
const BEARER = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
const BASIC = Buffer.from('alice:pa55word').toString('base64');
const PEM = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const PEM_BODY = PEM.split('\n')[1];
const SECRETS = [PASSWORD, API_KEY, SESSION, 's3ss10n-0123456789abcdef', BEARER, BASIC, PEM_BODY];

/** One event per way a secret is handed to a logger; `i` tags each line so every one can be found again. */
function writeSecrets(log: LogFn, i: number) {
  log('info', 'user created', { i, username: 'alice', password: PASSWORD, newPassphrase: PASSWORD });
  log('warn', 'api key refused', { i, apiKey: API_KEY, 'x-api-key': API_KEY, headers: { 'X-Api-Key': API_KEY } });
  log('info', 'request', { i, req: { method: 'GET', url: '/api/v1/session', headers: { cookie: SESSION, authorization: `Bearer ${BEARER}`, host: 'lb1' } } });
  log('error', `peer answered 401 to "Authorization: Basic ${BASIC}"`, { i, peer: '10.0.0.2', setCookie: [SESSION] });
  log('warn', 'certificate refused', { i, certificate: { name: 'symphony', privateKeyPem: PEM, private_key: PEM }, detail: `bad key ${PEM}` });
  log('error', 'unexpected error', { i, error: new Error(`cannot parse ${PEM}`) });
}
const PER_ROUND = 6;

/** Every line of every file the logger left in `dir` (rotated ones included), as text. */
function readBack(dir: string, prefix: string): { files: string[]; text: string; lines: Record<string, unknown>[] } {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(`${prefix}.`) && f.endsWith('.log'));
  const text = files.map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('');
  return {
    files,
    text,
    lines: text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l)),
  };
}

function assertNoSecret(text: string, lines: Record<string, unknown>[], rounds: number, src: string) {
  for (const s of SECRETS) assert.ok(!text.includes(s), `${src}: a secret reached the file: ${s.slice(0, 12)}…`);
  assert.ok(!text.includes('PRIVATE KEY-----\\n'), `${src}: a PEM body reached the file`);
  // What is not secret is all there: every line of every round, with its fields and its level.
  assert.equal(lines.length, rounds * PER_ROUND, `${src}: every line is in the files`);
  for (let i = 0; i < rounds; i++) assert.equal(lines.filter((l) => l.i === i).length, PER_ROUND);
  const request = lines.find((l) => l.msg === 'request') as { src: string; req: { headers: Record<string, string> } };
  assert.equal(request.src, src);
  assert.deepEqual(request.req.headers, { cookie: '[redacted]', authorization: '[redacted]', host: 'lb1' });
  const peer = lines.find((l) => l.msg?.toString().startsWith('peer answered')) as { msg: string; level: string; peer: string };
  assert.deepEqual([peer.msg, peer.level, peer.peer], ['peer answered 401 to "Authorization: Basic [redacted]"', 'error', '10.0.0.2']);
  const err = lines.find((l) => l.msg === 'unexpected error') as { error: { type: string; message: string } };
  assert.deepEqual([err.error.type, err.error.message], ['Error', 'cannot parse [redacted]\n'], 'the PEM went, its trailing newline stays');
}

test('console log: secrets given to it are not in its rotated files', async () => {
  const dir = path.join(tmp, 'console');
  assert.equal(await openConsoleLogFile({ file: path.join(dir, 'console.log'), size: '1k', keep: 50, isTerminal: false }), true);
  const file = consoleLogFile()!;
  let rotations = 0;
  file.on('ready', () => rotations++);
  const rounds = 8;
  for (let i = 0; i < rounds; i++) {
    writeSecrets(log, i);
    // pino-roll rotates after a write has drained; the file is synchronous, so a tick lets it.
    await new Promise((r) => setImmediate(r));
  }
  await closeConsoleLog();
  const { files, text, lines } = readBack(dir, 'console');
  assert.ok(files.length >= 3, `rotated by size: ${files.join(', ')}`);
  assertNoSecret(text, lines, rounds, 'console');
  for (const f of files) assert.equal(fs.statSync(path.join(dir, f)).mode & 0o777, 0o600, `${f} is readable by its owner only`);
});

test('engine log: secrets given to it are not in its rotated files', async () => {
  const dir = path.join(tmp, 'engine');
  const e = await createEngineLog({ file: path.join(dir, 'engine.log'), size: '1k', keep: 50, isStdout: false });
  const rounds = 8;
  for (let i = 0; i < rounds; i++) {
    const written = once(e.stream!, 'write');
    writeSecrets(e.log, i);
    await written;
  }
  await e.close();
  const { files, text, lines } = readBack(dir, 'engine');
  assert.ok(files.length >= 3, `rotated by size: ${files.join(', ')}`);
  assertNoSecret(text, lines, rounds, 'engine');
});

test('a console log file that cannot be opened leaves the log on the terminal', async () => {
  const blocker = path.join(tmp, 'not-a-dir');
  fs.writeFileSync(blocker, '');
  assert.equal(await openConsoleLogFile({ file: path.join(blocker, 'console.log'), isTerminal: false }), false);
  assert.equal(consoleLogFile(), null);
});

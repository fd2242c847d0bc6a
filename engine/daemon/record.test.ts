/**
 * The record of what runs (record.ts): a whole record, then a journal entry per change holding only what changed,
 * read back as the last state written — and a torn entry, stale entries a kill left behind, and a failed write each
 * leave the state recorded before them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigSchema, createConfigParser, type Config } from '../config/index.ts';
import { RunningRecord } from './record.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-record-'));
const svc = (name: string, port: number, weight = 100) => ({
  name,
  layer: 4,
  mode: 'nat',
  address: '10.0.0.1',
  ports: [port],
  healthCheck: { type: 'none' },
  realServers: [{ name: 'a', address: '10.0.1.1', weight }],
});
const parse = createConfigParser();
const cfg = (raw: unknown): Config => {
  const r = parse(raw);
  assert.ok(r.success);
  return r.data;
};
const run = (version: number, config: Config) => ({ version, hash: `h${version}`, appliedAt: `t${version}`, config });
/** What a restarted engine reads, parsed as start() parses it. */
const readBack = (file: string) => {
  const r = new RunningRecord(file).read();
  return r && { version: r.version, hash: r.hash, appliedAt: r.appliedAt, config: ConfigSchema.parse(r.config) };
};

test('a whole record, then journal entries of what changed: read back as the last state written', () => {
  const file = path.join(tmp(), 'engine-running.json');
  const journal = file.replace('.json', '.journal');
  const record = new RunningRecord(file);
  const steps: Config[] = [
    cfg({ virtualServices: [svc('a', 80), svc('b', 81), svc('c', 82)] }),
    cfg({ virtualServices: [svc('a', 80), svc('b', 81, 5), svc('c', 82)] }),
    cfg({ virtualServices: [svc('a', 80), svc('b', 81, 5), svc('c', 82), svc('d', 83)] }),
    cfg({ virtualServices: [svc('d', 83), svc('a', 80), svc('c', 82)] }),
    cfg({ virtualServices: [svc('d', 83), svc('a', 80), svc('c', 82)], floatingIps: [{ address: '10.0.0.9', interface: 'eth0' }] }),
  ];
  steps.forEach((c, i) => {
    const whole = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
    record.write(run(i + 1, c), c);
    if (i > 0) assert.equal(fs.readFileSync(file, 'utf8'), whole, 'the whole record is not written again');
    assert.deepEqual(readBack(file), { ...run(i + 1, ConfigSchema.parse(JSON.parse(JSON.stringify(c)))) }, `step ${i + 1}`);
  });
  const entries = fs
    .readFileSync(journal, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    entries.map((e) => Object.keys(e.services)),
    [['b'], ['d'], [], []],
    'each entry holds only the services that changed',
  );
  assert.deepEqual(entries[2].removed, ['b']);
  assert.deepEqual(entries[2].order, ['d', 'a', 'c']);
  assert.equal(entries[3].order, undefined, 'the order only when it changed');
  assert.deepEqual(
    entries.map((e) => 'fields' in e),
    [false, false, false, true],
    'the other fields only when they changed',
  );
});

/** A record in a fresh directory after two applies: a whole record (version 1), then one journal entry (version 2). */
function twoApplies() {
  const file = path.join(tmp(), 'engine-running.json');
  const journal = file.replace('.json', '.journal');
  const one = cfg({ virtualServices: [svc('a', 80), svc('b', 81)] });
  const two = cfg({ virtualServices: [svc('a', 80), svc('b', 81, 7)] });
  const record = new RunningRecord(file);
  record.write(run(1, one), one);
  record.write(run(2, two), two);
  return { file, journal, one, record };
}

test('a torn entry ends the replay; entries older than the whole record are not replayed; a restarted writer starts whole', () => {
  const { file, journal } = twoApplies();
  const whole = fs.readFileSync(journal, 'utf8');
  // A kill in the middle of the next entry: part of a line, no newline.
  fs.appendFileSync(journal, whole.slice(0, 40));
  assert.equal(readBack(file)!.version, 2);
  fs.writeFileSync(journal, `${whole}${whole.slice(0, 40)}\n`);
  assert.equal(readBack(file)!.version, 2, 'a line that does not parse is not replayed');

  // A restarted engine's first write is whole, with a seq above every entry: if it is killed before the journal
  // is removed, those entries (versions 1-2) are not replayed over it.
  const restarted = new RunningRecord(file);
  assert.equal(restarted.read()!.version, 2);
  const three = cfg({ virtualServices: [svc('a', 80, 3)] });
  restarted.write(run(3, three), three);
  assert.ok(!fs.existsSync(journal), 'the journal is folded into the whole record');
  fs.writeFileSync(journal, whole);
  assert.deepEqual(readBack(file), run(3, ConfigSchema.parse(JSON.parse(JSON.stringify(three)))));
});

test('a failed entry throws, leaves the state before it, and the next write is whole', () => {
  const dir = tmp();
  const file = path.join(dir, 'engine-running.json');
  const journal = file.replace('.json', '.journal');
  const record = new RunningRecord(file);
  const one = cfg({ virtualServices: [svc('a', 80)] });
  const two = cfg({ virtualServices: [svc('a', 80, 2)] });
  record.write(run(1, one), one);
  fs.mkdirSync(journal); // as a read-only or full disk would refuse it
  assert.throws(() => record.write(run(2, two), two));
  assert.equal(readBack(file)!.version, 1);
  fs.rmdirSync(journal);
  record.write(run(2, two), two);
  assert.ok(!fs.existsSync(journal), 'written whole');
  assert.equal(readBack(file)!.version, 2);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
});

test('a journal left beside no whole record (deleted, or unreadable) is never replayed over the next whole record', () => {
  const { file, journal, one, record } = twoApplies();
  record.write(run(3, one), one);
  const left = fs.readFileSync(journal, 'utf8');
  for (const damage of ['deleted', 'unreadable']) {
    if (damage === 'deleted') fs.rmSync(file);
    else fs.writeFileSync(file, '{"config":');
    fs.writeFileSync(journal, left);
    // The engine replaced (or its record damaged): it starts with no record, then writes a whole one; killed before
    // it removed the journal, the journal's entries (seq 2 and 3) are still there at the next start.
    const fresh = new RunningRecord(file);
    if (damage === 'deleted') assert.equal(fresh.read(), null);
    else assert.throws(() => fresh.read());
    const other = cfg({ virtualServices: [svc('c', 90)] });
    fresh.write(run(7, other), other);
    fs.writeFileSync(journal, left);
    assert.deepEqual(readBack(file), run(7, ConfigSchema.parse(JSON.parse(JSON.stringify(other)))), `record ${damage}`);
  }
});

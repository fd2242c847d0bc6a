/**
 * The audit trail against a forger with root: they open the real SQLite file with their own connection, read the
 * audit key and the head file in the data directory, and rewrite all three. What they cannot reach is the checkpoint
 * file outside the data directory (and the seal key kept apart). Each kind of tampering is found by /audit/verify,
 * which names the row and how; undoing it restores the chain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { setupAdmin, startHarness, type Harness, type Client } from './testing/harness.ts';
import { auditHeadMac, auditRowMac, legacyRowHash, recordAuditHead, sealAuditHead, SEAL_MARKER, storedFields, type AuditProblem } from './audit.ts';
import { canonicalJson } from '../engine/canonical.ts';

let h: Harness;
let admin: Client;
const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fulcrum-seal-'));
const sealFile = path.join(outside, 'audit-seal.log');

before(async () => {
  process.env.FULCRUM_AUDIT_SEAL = `file:${sealFile}`;
  process.env.FULCRUM_AUDIT_SEAL_KEY = path.join(outside, 'audit-seal.key');
  process.env.FULCRUM_AUDIT_SEAL_SECONDS = '0';
  h = await startHarness({ withEngine: false });
  admin = await setupAdmin(h);
  for (let i = 0; i < 8; i++) {
    const r = await admin.req('POST', '/users', { username: `user${i}`, password: 'a long enough password', role: 'viewer' });
    assert.equal(r.status, 201, r.text);
  }
  // Every commit schedules a checkpoint (interval 0); wait until the newest head is sealed.
  await sealAuditHead();
});
after(async () => {
  await h.close();
  fs.rmSync(outside, { recursive: true, force: true });
  delete process.env.FULCRUM_AUDIT_SEAL;
  delete process.env.FULCRUM_AUDIT_SEAL_KEY;
  delete process.env.FULCRUM_AUDIT_SEAL_SECONDS;
});

// ── the forger's tools: their own connection to the database file, and the files in the data directory ──────────

type Raw = {
  id: number;
  at: string;
  actor: string;
  actorRole: string | null;
  sourceAddress: string;
  action: string;
  objectType: string;
  objectId: string | null;
  before: string | null;
  after: string | null;
  outcome: string;
  message: string | null;
  requestId: string;
  prevHash: string;
  hash: string;
};
const dbFile = () => path.join(h.dataDir, 'fulcrum.db');
const headFile = () => path.join(h.dataDir, 'audit-head');
const stolenKey = () => Buffer.from(fs.readFileSync(path.join(h.dataDir, 'audit.key'), 'utf8').trim(), 'base64');

function forger<T>(fn: (d: Database.Database) => T): T {
  const d = new Database(dbFile());
  try {
    return fn(d);
  } finally {
    d.close();
  }
}
const allRows = (d: Database.Database) => d.prepare('SELECT * FROM AuditEvent ORDER BY id').all() as Raw[];
const fieldsOf = (r: Raw) => storedFields({ ...r, at: new Date(r.at) });

/** Recomputes every link and hash from row `fromId` on: as plain SHA-256 (no key), or as HMAC with the stolen key. */
function rechain(d: Database.Database, fromId: number, scheme: 'plain' | 'keyed') {
  const key = stolenKey();
  const rows = allRows(d);
  let prev = rows.filter((r) => r.id < fromId).at(-1)?.hash ?? 'sha256:' + '0'.repeat(64);
  const update = d.prepare('UPDATE AuditEvent SET prevHash = ?, hash = ? WHERE id = ?');
  for (const r of rows.filter((x) => x.id >= fromId)) {
    const hash = scheme === 'keyed' ? auditRowMac(key, prev, r.id, fieldsOf(r)) : legacyRowHash(prev, fieldsOf(r));
    update.run(prev, hash, r.id);
    prev = hash;
  }
}

/** Rewrites the head file to name the newest row, with a valid MAC when the forger uses the key. */
function rewriteHead(d: Database.Database, withKey: boolean) {
  const last = allRows(d).at(-1)!;
  fs.writeFileSync(headFile(), JSON.stringify({ id: last.id, hash: last.hash, ...(withKey ? { mac: auditHeadMac(stolenKey(), last.id, last.hash) } : {}) }));
}

/** Moves rows with id > `after` up by `by` (negative: down), as a forger renumbering around an insert or delete. */
function shiftIds(d: Database.Database, after: number, by: number) {
  d.prepare('UPDATE AuditEvent SET id = id + 1000000 WHERE id > ?').run(after);
  d.prepare('UPDATE AuditEvent SET id = id - 1000000 + ? WHERE id > 1000000').run(by);
}

function snapshot() {
  const rows = forger(allRows);
  const head = fs.readFileSync(headFile(), 'utf8');
  const seal = fs.readFileSync(sealFile, 'utf8');
  return () => {
    forger((d) => {
      d.transaction(() => {
        d.prepare('DELETE FROM AuditEvent').run();
        const cols = Object.keys(rows[0]);
        const ins = d.prepare(`INSERT INTO AuditEvent (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`);
        for (const r of rows) ins.run(...cols.map((c) => (r as Record<string, unknown>)[c]));
      })();
    });
    fs.writeFileSync(headFile(), head);
    fs.writeFileSync(sealFile, seal);
  };
}

async function verify() {
  const r = await admin.req('GET', '/audit/verify');
  assert.equal(r.status, 200, r.text);
  return r.body as {
    isIntact: boolean;
    checked: number;
    firstBroken?: AuditProblem;
    problems: AuditProblem[];
    lastId: number;
    seal: { checkpoints: number; newest: { id: number } | null; foreign: number };
    warnings: string[];
  };
}

/** Runs one tampering, checks what verify says, then undoes it and checks the chain is whole again. */
async function tampering(tamper: () => void, check: (report: Awaited<ReturnType<typeof verify>>) => void) {
  const undo = snapshot();
  try {
    tamper();
    check(await verify());
  } finally {
    undo();
  }
  const again = await verify();
  assert.equal(again.isIntact, true, JSON.stringify(again.problems));
}

/** A row in the middle: one of the user.create rows. */
const middle = () => forger((d) => allRows(d).filter((r) => r.action === 'user.create')[3]);

describe('untouched', () => {
  test('the chain verifies, every row keyed, and its head is sealed outside the data directory', async () => {
    const r = await verify();
    assert.equal(r.isIntact, true, JSON.stringify(r.problems));
    assert.ok(r.checked >= 10);
    assert.ok(r.seal.checkpoints >= 1);
    assert.equal(r.seal.newest?.id, r.lastId, 'the newest row is sealed');
    assert.ok(forger(allRows).every((row) => row.hash.startsWith('hmac-sha256:')));
    assert.ok(!path.relative(h.dataDir, sealFile).match(/^[^.]/), 'the checkpoint file is not under the data directory');
    assert.match(fs.readFileSync(sealFile, 'utf8'), new RegExp(`^${SEAL_MARKER} \\{`, 'm'));
  });

  test('the audit key is a file in the data directory, owner-only, and not in the database', () => {
    const keyFile = path.join(h.dataDir, 'audit.key');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const key = fs.readFileSync(keyFile, 'utf8').trim();
    for (const f of ['fulcrum.db', 'fulcrum.db-wal']) {
      const p = path.join(h.dataDir, f);
      if (fs.existsSync(p)) assert.ok(!fs.readFileSync(p).includes(key), `${f} does not hold the key`);
    }
    assert.equal(fs.statSync(path.join(outside, 'audit-seal.key')).mode & 0o777, 0o600);
  });
});

describe('a forger with the database and the data directory', () => {
  test('edits a row and recomputes the plain SHA-256 hashes after it: found at that row (no MAC)', async () => {
    const victim = middle();
    await tampering(
      () =>
        forger((d) => {
          d.prepare('UPDATE AuditEvent SET actor = ? WHERE id = ?').run('someone-else', victim.id);
          rechain(d, victim.id, 'plain');
          rewriteHead(d, false);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.equal(r.firstBroken!.id, victim.id);
        assert.equal(r.firstBroken!.kind, 'edited');
        assert.match(r.firstBroken!.reason, new RegExp(`row ${victim.id} `));
      },
    );
  });

  test('edits a row and recomputes every MAC with the stolen key and the head file: the checkpoints find it', async () => {
    const victim = middle();
    await tampering(
      () =>
        forger((d) => {
          d.prepare('UPDATE AuditEvent SET actor = ? WHERE id = ?').run('someone-else', victim.id);
          rechain(d, victim.id, 'keyed');
          rewriteHead(d, true);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.ok(
          !r.problems.some((p) => p.kind === 'edited' || p.kind === 'relinked' || p.kind === 'head-mismatch'),
          'every MAC and link is consistent: only the seal tells',
        );
        assert.equal(r.firstBroken!.kind, 'sealed-mismatch');
        // With interval 0 every row was sealed, so the first mismatch is the edited row itself.
        assert.equal(r.firstBroken!.id, victim.id);
        assert.match(r.firstBroken!.reason, /edited, inserted or deleted/);
      },
    );
  });

  test('inserts a row in the middle without the key: found at the inserted row', async () => {
    const at = middle();
    await tampering(
      () =>
        forger((d) => {
          shiftIds(d, at.id, 1);
          const forged = { ...at, id: at.id + 1, actor: 'ghost', requestId: 'forged-request', hash: 'placeholder-' + at.id };
          const cols = Object.keys(forged);
          d.prepare(`INSERT INTO AuditEvent (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`).run(
            ...cols.map((c) => (forged as Record<string, unknown>)[c]),
          );
          rechain(d, at.id + 1, 'plain');
          rewriteHead(d, false);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.equal(r.firstBroken!.id, at.id + 1);
        assert.equal(r.firstBroken!.kind, 'edited');
      },
    );
  });

  test('inserts a row in the middle, renumbers and re-keys everything after it: the checkpoints find it', async () => {
    const at = middle();
    await tampering(
      () =>
        forger((d) => {
          shiftIds(d, at.id, 1);
          const forged = { ...at, id: at.id + 1, actor: 'ghost', requestId: 'forged-request', hash: 'placeholder-' + at.id };
          const cols = Object.keys(forged);
          d.prepare(`INSERT INTO AuditEvent (${cols.join(',')}) VALUES (${cols.map(() => '?').join(',')})`).run(
            ...cols.map((c) => (forged as Record<string, unknown>)[c]),
          );
          rechain(d, at.id + 1, 'keyed');
          rewriteHead(d, true);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.equal(r.firstBroken!.kind, 'sealed-mismatch');
        assert.equal(r.firstBroken!.id, at.id + 1);
      },
    );
  });

  test('deletes a row from the middle: found as the missing id', async () => {
    const victim = middle();
    await tampering(
      () =>
        forger((d) => {
          d.prepare('DELETE FROM AuditEvent WHERE id = ?').run(victim.id);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.deepEqual({ id: r.firstBroken!.id, kind: r.firstBroken!.kind }, { id: victim.id, kind: 'missing' });
        assert.match(r.firstBroken!.reason, new RegExp(`row ${victim.id} is missing`));
      },
    );
  });

  test('deletes a row from the middle, closes the gap and re-keys the rest and the head: the checkpoints find it', async () => {
    const victim = middle();
    await tampering(
      () =>
        forger((d) => {
          d.prepare('DELETE FROM AuditEvent WHERE id = ?').run(victim.id);
          shiftIds(d, victim.id, -1);
          rechain(d, victim.id, 'keyed');
          rewriteHead(d, true);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.ok(!r.problems.some((p) => p.kind === 'missing' || p.kind === 'edited'));
        assert.equal(r.firstBroken!.kind, 'sealed-mismatch');
        assert.equal(r.firstBroken!.id, victim.id);
        assert.ok(
          r.problems.some((p) => p.kind === 'truncated'),
          'and the sealed last row is gone',
        );
      },
    );
  });

  test('truncates the tail and rewrites the head file with the key: the newest checkpoint names the rows cut', async () => {
    const rows = forger(allRows);
    const keep = rows.at(-4)!.id;
    const lastId = rows.at(-1)!.id;
    await tampering(
      () =>
        forger((d) => {
          d.prepare('DELETE FROM AuditEvent WHERE id > ?').run(keep);
          rewriteHead(d, true);
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.equal(r.firstBroken!.kind, 'truncated');
        assert.equal(r.firstBroken!.id, keep + 1);
        assert.match(r.firstBroken!.reason, new RegExp(`rows ${keep + 1} to ${lastId} were deleted from the end`));
      },
    );
  });

  test('rewrites the head file without the key: its MAC gives it away', async () => {
    await tampering(
      () =>
        forger((d) => {
          const last = allRows(d).at(-1)!;
          d.prepare('DELETE FROM AuditEvent WHERE id = ?').run(last.id);
          const now = allRows(d).at(-1)!;
          fs.writeFileSync(headFile(), JSON.stringify({ id: now.id, hash: now.hash, mac: '0'.repeat(64) }));
        }),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.ok(
          r.problems.some((p) => p.kind === 'head-mismatch'),
          JSON.stringify(r.problems),
        );
        assert.ok(r.problems.some((p) => p.kind === 'truncated'));
      },
    );
  });

  test('appends a checkpoint of their own to the sink: without the seal key it is a forgery, and another key is only foreign', async () => {
    const ours = fs.readFileSync(sealFile, 'utf8').trim().split('\n').at(-1)!;
    const keyId = JSON.parse(/(\{.*\})/.exec(ours)![1]).key as string;
    const other = generateKeyPairSync('ed25519');
    const claim = (key: string) => {
      const body = canonicalJson({ at: new Date().toISOString(), id: 3, mac: 'hmac-sha256:' + 'f'.repeat(64), key });
      return `${SEAL_MARKER} ${body} ${sign(null, Buffer.from(body), other.privateKey).toString('base64')}\n`;
    };
    await tampering(
      () => fs.appendFileSync(sealFile, claim(keyId) + claim(createHash('sha256').update('other').digest('hex').slice(0, 16))),
      (r) => {
        assert.equal(r.isIntact, false);
        assert.deepEqual(
          r.problems.map((p) => [p.id, p.kind]),
          [[3, 'forged-checkpoint']],
        );
        assert.equal(r.seal.foreign, 1);
        assert.ok(r.warnings.some((w) => /another key/.test(w)));
      },
    );
  });
});

describe('checkpoints from syslog', () => {
  test('lines sent to POST /audit/verify are checked like the file sink', async () => {
    const lines = fs
      .readFileSync(sealFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => `Dec  1 10:00:00 lb1 fulcrum-audit[123]: ${l}`);
    const rows = forger(allRows);
    const keep = rows.at(-3)!.id;
    const saved = process.env.FULCRUM_AUDIT_SEAL;
    const undo = snapshot();
    try {
      // As if the only sink were syslog: the file is not read, so only the submitted lines can tell.
      process.env.FULCRUM_AUDIT_SEAL = 'syslog';
      forger((d) => {
        d.prepare('DELETE FROM AuditEvent WHERE id > ?').run(keep);
        rewriteHead(d, true);
      });
      const blind = await verify();
      assert.equal(blind.isIntact, true, 'without checkpoints a re-keyed cut passes…');
      assert.ok(blind.warnings.some((w) => /syslog/.test(w)));
      const r = await admin.req('POST', '/audit/verify', { checkpointLines: lines });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.isIntact, false, '…and the syslog lines find it');
      assert.equal(r.body.firstBroken.kind, 'truncated');
      assert.equal(r.body.firstBroken.id, keep + 1);
    } finally {
      process.env.FULCRUM_AUDIT_SEAL = saved;
      undo();
    }
  });
});

test('the head file names the row each commit wrote, and a late call with an older head does not put it back', async () => {
  const r = await admin.req('POST', '/users', { username: 'head-check', password: 'a long enough password', role: 'viewer' });
  assert.equal(r.status, 201, r.text);
  const rows = forger(allRows);
  const newest = rows.at(-1)!;
  const head = fs.readFileSync(headFile(), 'utf8');
  assert.deepEqual([JSON.parse(head).id, JSON.parse(head).hash], [newest.id, newest.hash]);
  // Two commits' calls finishing out of order: the earlier commit's head arrives after the later one's.
  const older = rows.at(-2)!;
  await recordAuditHead({ id: older.id, hash: older.hash });
  assert.equal(fs.readFileSync(headFile(), 'utf8'), head, 'the head file must not go back to an older row');
});

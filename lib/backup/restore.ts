/**
 * Backup and restore against the console's store. Export is the staged (candidate) configuration with every private
 * key left out or encrypted (format.ts). Restore never changes anything until asked: preview reads and checks the
 * file and shows the difference from what is staged; restore stages the file's configuration — certificates first,
 * then services, real servers and floating IPs by name (lib/config/apply.ts loadCandidate) — in one transaction with
 * one audit row. Nothing runs until applied, like any other edit.
 */
import { configHash } from '../../engine/canonical.ts';
import type { Config } from '../../engine/config/index.ts';
import { db } from '../db.ts';
import { ApiError } from '../errors.ts';
import { mutate } from '../api/mutate.ts';
import type { AuditInput } from '../audit.ts';
import { renderCandidate } from '../config/render.ts';
import { diffConfigs } from '../config/diff.ts';
import { loadCandidate } from '../config/apply.ts';
import { inspectCertificate } from '../certificates.ts';
import { openPrivateKey, sealPrivateKey } from '../secrets.ts';
import { BackupRefusal, exportBackup, readBackup, type ReadBackup } from './format.ts';

type AuditFor = (input: Omit<AuditInput, 'actor' | 'actorRole' | 'sourceAddress' | 'requestId'>) => AuditInput;

export async function exportCurrent(createdBy: string, passphrase?: string) {
  const config = await renderCandidate();
  return { file: exportBackup(config, { createdBy, passphrase }), hash: configHash(config) };
}

/** A refusal as the API answers it: 422 naming the field, with the reason ("tampered", "wrong-version", …). */
function refusal(e: BackupRefusal): ApiError {
  return new ApiError(
    'API_VALIDATION',
    { summary: `${e.path}: ${e.message}` },
    { reason: e.reason, fields: e.fields ?? [{ path: e.path, message: e.message }] },
  );
}

async function read(raw: unknown, passphrase?: string): Promise<ReadBackup> {
  const stored = await db().certificate.findMany();
  try {
    const r = readBackup(raw, {
      passphrase,
      existingKey: (name, pem) => {
        const c = stored.find((x) => x.name === name && x.certificatePem.trim() === pem.trim());
        return c ? openPrivateKey(c.name, c.privateKeyPem) : undefined;
      },
    });
    if (r.keysMissing.length) {
      throw new BackupRefusal(
        'missing-key',
        `The private key of certificate ${r.keysMissing.map((n) => `"${n}"`).join(', ')} is not in this backup (it was exported without a passphrase) and this appliance has no key for that certificate. Export again with a passphrase, or upload the certificate on the Certificates page first.`,
        'file',
      );
    }
    return r;
  } catch (e) {
    throw e instanceof BackupRefusal ? refusal(e) : e;
  }
}

export async function previewRestore(raw: unknown, passphrase?: string) {
  const r = await read(raw, passphrase);
  const candidate = await renderCandidate();
  return {
    createdAt: r.file.createdAt,
    createdBy: r.file.createdBy,
    contentHash: r.file.contentHash,
    secrets: r.file.secrets.mode,
    configHash: configHash(r.config),
    candidateHash: configHash(candidate),
    changes: diffConfigs(candidate, r.config),
  };
}

/** Stages the file's configuration. `expectedCandidateHash`: what the preview was compared with (a change since refuses). */
export async function restore(raw: unknown, opts: { passphrase?: string; expectedCandidateHash?: string; audit: AuditFor }) {
  const r = await read(raw, opts.passphrase);
  const config: Config = r.config;
  const result = await mutate(
    async (tx) => {
      const before = await renderCandidate(tx);
      if (opts.expectedCandidateHash && configHash(before) !== opts.expectedCandidateHash) {
        throw new ApiError('API_CONFLICT', { reason: 'The staged configuration changed since you previewed this restore; preview it again.' });
      }
      for (const c of config.certificates) {
        const data = {
          certificatePem: c.certificatePem,
          privateKeyPem: sealPrivateKey(c.name, c.privateKeyPem),
          ...inspectCertificate(c.certificatePem, c.privateKeyPem),
        };
        await tx.certificate.upsert({ where: { name: c.name }, create: { name: c.name, ...data }, update: data });
      }
      await loadCandidate(tx, config);
      return { before: configHash(before), changes: diffConfigs(before, config).length };
    },
    (x) =>
      opts.audit({
        action: 'backup.restore',
        objectType: 'config',
        outcome: 'success',
        before: { candidateHash: x.before },
        after: {
          hash: configHash(config),
          file: { createdAt: r.file.createdAt, createdBy: r.file.createdBy, contentHash: r.file.contentHash, secrets: r.file.secrets.mode },
          changes: x.changes,
        },
        message: `Restored a backup made ${r.file.createdAt} by ${r.file.createdBy} (staged: ${x.changes} change${x.changes === 1 ? '' : 's'}; apply to run it).`,
      }),
  );
  return { hash: configHash(config), changes: result.changes };
}

/**
 * Backup and restore (lib/backup/). Admins only (config:write): a backup is the whole configuration, and a restore
 * replaces it. Export is audited (who took the configuration away, with or without its keys); restore is audited
 * with the file it came from; preview changes nothing.
 */
import { z } from 'zod';
import { defineRoute } from '../route.ts';
import { writeAuditAlone } from '../../audit.ts';
import { exportCurrent, previewRestore, restore } from '../../backup/restore.ts';
import { PassphraseSchema } from '../../backup/format.ts';
import { readScheduledBackup, scheduledBackups } from '../../backup/schedule.ts';
import { ApiError } from '../../errors.ts';

const tag = 'backup';
const RestoreBody = z.strictObject({
  file: z.unknown().refine((v) => v !== undefined, 'Choose the backup file.'),
  passphrase: z.string().max(1024).optional(),
});

export const backupRoutes = [
  defineRoute({
    method: 'POST',
    path: '/backup/export',
    permission: 'config:write',
    tag,
    action: 'backup.export',
    objectType: 'config',
    summary: 'Download the whole staged configuration as a backup file (private keys left out, or encrypted with a passphrase)',
    body: z.strictObject({ passphrase: PassphraseSchema.optional() }),
    async handler(ctx) {
      const { file, hash } = await exportCurrent(ctx.actor.name, ctx.body.passphrase);
      await writeAuditAlone(
        ctx.audit({
          action: 'backup.export',
          objectType: 'config',
          outcome: 'success',
          after: { hash, contentHash: file.contentHash, secrets: file.secrets.mode },
        }),
      );
      const name = `fulcrum-backup-${file.createdAt.replace(/[:.]/g, '-')}.json`;
      return new Response(JSON.stringify(file, null, 2), {
        status: 200,
        headers: { 'content-type': 'application/json', 'content-disposition': `attachment; filename="${name}"`, 'cache-control': 'no-store' },
      });
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/backup/preview',
    permission: 'config:write',
    tag,
    action: 'backup.preview',
    objectType: 'config',
    summary: 'Check a backup file and show what restoring it would change (changes nothing)',
    body: RestoreBody,
    async handler(ctx) {
      return { body: await previewRestore(ctx.body.file, ctx.body.passphrase) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/backup/restore',
    permission: 'config:write',
    tag,
    action: 'backup.restore',
    objectType: 'config',
    summary: 'Stage the configuration of a backup file (apply to run it)',
    body: RestoreBody.extend({ expectedCandidateHash: z.string().max(80).optional() }),
    async handler(ctx) {
      return {
        body: await restore(ctx.body.file, { passphrase: ctx.body.passphrase, expectedCandidateHash: ctx.body.expectedCandidateHash, audit: ctx.audit }),
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/backup/scheduled',
    permission: 'config:write',
    tag,
    action: 'backup.scheduled.list',
    objectType: 'config',
    summary: 'The scheduled backups: whether the schedule is on (FULCRUM_BACKUP_DIR), its settings, and the files it keeps',
    async handler() {
      return { body: scheduledBackups() };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/backup/scheduled/:name',
    permission: 'config:write',
    tag,
    action: 'backup.scheduled.read',
    objectType: 'config',
    summary: 'One scheduled backup file, to preview and restore it',
    async handler(ctx) {
      const file = readScheduledBackup(ctx.params.name);
      if (file === undefined) throw new ApiError('API_NOT_FOUND', { what: `Scheduled backup ${ctx.params.name}` });
      return { body: file };
    },
  }),
];

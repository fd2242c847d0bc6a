/** A staged change: the write and its audit row in one transaction, then a nudge to every open console. */
import { db, type Tx } from '../db.ts';
import { recordAuditHead, writeAudit, type AuditHead, type AuditInput } from '../audit.ts';
import { publish } from '../bus.ts';

/** `audit` may answer null when `fn` found nothing to change (a version someone else settled first): no row then. */
export async function mutate<F extends (tx: Tx) => PromiseLike<unknown>>(
  fn: F,
  audit: (result: Awaited<ReturnType<F>>) => AuditInput | null,
  opts: { isCandidateChange?: boolean } = {},
): Promise<Awaited<ReturnType<F>>> {
  let input: AuditInput | null = null;
  let head: AuditHead | undefined;
  const result = await db().$transaction(async (tx) => {
    const r = (await fn(tx)) as Awaited<ReturnType<F>>;
    input = audit(r);
    if (input) head = await writeAudit(tx, input);
    return r;
  });
  const written = input as AuditInput | null;
  if (!written) return result;
  await recordAuditHead(head);
  const at = new Date().toISOString();
  if (opts.isCandidateChange !== false) publish({ type: 'candidate-changed', at, by: written.actor });
  publish({ type: 'audit', at, action: written.action, actor: written.actor, outcome: written.outcome });
  return result;
}

/** The version the client edited, from If-Match ("3" or W/"3"). */
export function ifMatchVersion(req: Request): number | undefined {
  const h = req.headers.get('if-match');
  const m = h && /^(?:W\/)?"?(\d+)"?$/.exec(h.trim());
  return m ? Number(m[1]) : undefined;
}

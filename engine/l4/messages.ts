/**
 * Changes as bytes: the engine encodes its commands here and its IPVS helper process sends the bytes (client.ts
 * execMessages), answering an errno per message, which resultsOf() turns back into reports against the engine's own
 * command objects. Cloning 5,000 command objects to the helper and 5,000 results back cost more than encoding them.
 */
import { frame, NLM_F_REQUEST } from './attrs.ts';
import type { ExecResult } from './client.ts';
import { encodeCommand, IPVS_GENL_VERSION, type Command } from './codec.ts';
import { errnoName, isHarmless, kernelError } from './kernel-errors.ts';

/**
 * Changing commands as netlink messages back to back, ready for execMessages(), which fills in what only the sending
 * socket knows (the family id, sequence numbers, which message asks for the ACK).
 */
export function encodeMessages(commands: readonly Command[]): Buffer {
  const frames = commands.map((c) => {
    const e = encodeCommand(c);
    return frame({ type: 0, flags: NLM_F_REQUEST, seq: 0, pid: 0, cmd: e.cmd, version: IPVS_GENL_VERSION, attrs: e.attrs });
  });
  return Buffer.concat(frames);
}

/** Each command's report from the kernel's errno for it. EEXIST on add and ESRCH/ENOENT on delete count as success. */
export function resultsOf(commands: readonly Command[], errnos: ArrayLike<number>): ExecResult[] {
  return commands.map((command, k) => {
    const errno = errnos[k] ?? 0;
    if (errno === 0) return { command, ok: true };
    if (isHarmless(command, errno)) return { command, ok: true, errno: errnoName(errno) };
    return { command, ok: false, errno: errnoName(errno), error: kernelError(command, errno) };
  });
}

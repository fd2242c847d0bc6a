/**
 * Changes as bytes: the engine encodes its commands here and its IPVS helper process sends the bytes (client.ts
 * execMessages), answering an errno per message, which resultsOf() turns back into reports against the engine's own
 * command objects. Cloning 5,000 command objects to the helper and 5,000 results back cost more than encoding them.
 */
import { NLM_F_REQUEST, type Attr } from './attrs.ts';
import type { ExecResult } from './client.ts';
import { DEST_CHANGE_CMD, DEST_NEST_LENGTH, encodeCommand, IPVS_GENL_VERSION, serviceIdNest, writeDestNest, type Command, type Encoded } from './codec.ts';
import type { ServiceId } from './model.ts';
import { errnoName, isHarmless, kernelError } from './kernel-errors.ts';

/**
 * Changing commands as netlink messages back to back, ready for execMessages(), which fills in what only the sending
 * socket knows (the family id, sequence numbers, which message asks for the ACK).
 */
export function encodeMessages(commands: readonly Command[]): Buffer {
  // The same bytes as framing each command apart and joining them (messages.test.ts compares), made cheaper for a
  // whole table (1,000 services x 4: 22 -> 9.4 ms on the host, median of 15): the service a run of destination
  // commands names is one object from plan(), so its SERVICE attribute is encoded once and reused (each encoding
  // parses its address again); destinations are written in place (writeDestNest), and every message goes into one
  // buffer instead of a buffer each, copied into the whole; most of the time was allocating small buffers.
  let lastId: ServiceId | undefined;
  let lastNest: Attr | undefined;
  const idNest = (id: ServiceId): Attr => {
    if (id !== lastId) {
      lastId = id;
      lastNest = serviceIdNest(id);
    }
    return lastNest!;
  };
  // A destination change is its service's SERVICE attribute then a DEST one written in place (writeDestNest);
  // anything else goes through encodeCommand.
  const encoded = new Array<Encoded | Attr>(commands.length);
  let total = 0;
  for (let i = 0; i < commands.length; i++) {
    const c = commands[i];
    total += GENL_HEADER;
    if (c.cmd === 'new-dest' || c.cmd === 'set-dest') {
      const nest = (encoded[i] = idNest(c.service));
      total += nest.length + DEST_NEST_LENGTH;
      continue;
    }
    const e = (encoded[i] = encodeCommand(c, idNest));
    for (let k = 0; k < e.attrs.length; k++) total += e.attrs[k].length;
  }
  const out = Buffer.alloc(total);
  let off = 0;
  for (let i = 0; i < encoded.length; i++) {
    const c = commands[i];
    const e = encoded[i];
    const start = off;
    off += GENL_HEADER;
    let cmd: number;
    if (c.cmd === 'new-dest' || c.cmd === 'set-dest') {
      off += (e as Attr).copy(out, off);
      off = writeDestNest(out, off, c.destination);
      cmd = DEST_CHANGE_CMD[c.cmd];
    } else {
      const { attrs } = e as Encoded;
      for (let k = 0; k < attrs.length; k++) off += attrs[k].copy(out, off);
      cmd = (e as Encoded).cmd;
    }
    // As frame(): length, type 0, flags, sequence 0, port 0, then the genl command and version (the rest stays 0).
    out.writeUInt32LE(off - start, start);
    out.writeUInt16LE(NLM_F_REQUEST, start + 6);
    out.writeUInt8(cmd, start + 16);
    out.writeUInt8(IPVS_GENL_VERSION, start + 17);
  }
  return out;
}

/** nlmsghdr (16 bytes) and genlmsghdr (4). */
const GENL_HEADER = 20;

/** Each command's report from the kernel's errno for it. EEXIST on add and ESRCH/ENOENT on delete count as success. */
export function resultsOf(commands: readonly Command[], errnos: ArrayLike<number>): ExecResult[] {
  return commands.map((command, k) => {
    const errno = errnos[k] ?? 0;
    if (errno === 0) return { command, ok: true };
    if (isHarmless(command, errno)) return { command, ok: true, errno: errnoName(errno) };
    return { command, ok: false, errno: errnoName(errno), error: kernelError(command, errno) };
  });
}

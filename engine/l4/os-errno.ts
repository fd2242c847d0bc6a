/** errno number → name (EEXIST …) from Node's own table, so messages name the errno the way `man 3 errno` does. */
import { constants } from 'node:os';

export const os = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v as number, k]));

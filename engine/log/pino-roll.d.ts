/** pino-roll 4 ships no types: what engine/log/ uses of it (its README's options). */
declare module 'pino-roll' {
  import type { SonicBoom } from 'sonic-boom';
  interface PinoRollOptions {
    file: string;
    /** "10m", "512k"; a bare number is megabytes. */
    size?: string | number;
    frequency?: 'daily' | 'hourly' | number;
    extension?: string;
    mkdir?: boolean;
    symlink?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
    dateFormat?: string;
    /** Passed to SonicBoom. */
    sync?: boolean;
    mode?: number;
  }
  export default function pinoRoll(opts: PinoRollOptions): Promise<SonicBoom>;
}

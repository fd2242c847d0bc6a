/**
 * The Layer 7 hot path reads one cookie (the persistence cookie) from each request's Cookie header. This compares
 * engine/l7/persistence.ts's readCookie (stops at the name it wants, does not decode) with the `cookie` package's
 * parseCookie (parses and decodes every pair), on headers as browsers send them to EMIS-like applications.
 * Prints ns per read and the ratio; run under the heavy lock: flock /tmp/fulcrum-heavy.lock npx tsx bench/cookie-read.ts
 */
import { parseCookie } from 'cookie';
import { readCookie } from '../engine/l7/persistence.ts';

const HEADERS = {
  short: 'LB=a1b2.m0x1.m0x2',
  typical: '_ga=GA1.2.1234567890.1600000000; theme=dark; JSESSIONID=8F3C2A7D9B1E4F60A5C3D2E1F0A9B8C7; LB=a1b2.m0x1.m0x2; lang=en-GB',
  long: Array.from({ length: 30 }, (_, i) => `tracker_${i}=${'x'.repeat(40)}`).join('; ') + '; LB=a1b2.m0x1.m0x2',
};

function time(fn: () => unknown, n: number): number {
  for (let i = 0; i < n / 10; i++) fn(); // warm up
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t) / n;
}

const N = 500_000;
let sink = 0;
for (const [name, header] of Object.entries(HEADERS)) {
  const ours: number[] = [];
  const pkg: number[] = [];
  for (let round = 0; round < 5; round++) {
    ours.push(time(() => (sink += readCookie([header], 'LB')?.length ?? 0), N));
    pkg.push(time(() => (sink += parseCookie(header).LB?.length ?? 0), N));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[2];
  console.log(
    `${name.padEnd(8)} readCookie ${median(ours).toFixed(0).padStart(5)} ns   cookie.parseCookie ${median(pkg).toFixed(0).padStart(5)} ns   ratio ${(median(pkg) / median(ours)).toFixed(2)}×`,
  );
}
if (sink < 0) console.log(sink);

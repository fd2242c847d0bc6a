import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyBody } from './index.ts';

test("applyBody is the text of { version, hash, config, deadline } with the config's own text put in", () => {
  const config = { virtualServices: [{ name: 'web "1"', ports: [80, 443], note: 'ünïcode \u2028 and \\ slashes' }], certificates: [], floatingIps: [] };
  const body = applyBody(7, 'sha256:ab"c', JSON.stringify(config), 1_765_000_000_123);
  assert.equal(body.text, JSON.stringify({ version: 7, hash: 'sha256:ab"c', config, deadline: 1_765_000_000_123 }));
  assert.deepEqual(JSON.parse(body.text).config, config);
});

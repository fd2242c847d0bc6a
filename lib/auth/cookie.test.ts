import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCookie } from './session.ts';

test('the session cookie is read from a Cookie header as browsers send it', () => {
  assert.equal(readCookie('theme=dark; fulcrum_session=AbC-_09; other=1', 'fulcrum_session'), 'AbC-_09');
  assert.equal(readCookie('fulcrum_session=a=b', 'fulcrum_session'), 'a=b', 'a value may hold "="');
  assert.equal(readCookie('xfulcrum_session=1', 'fulcrum_session'), undefined, 'a longer name is another cookie');
  assert.equal(readCookie('fulcrum_session="quoted"', 'fulcrum_session'), '"quoted"');
  assert.equal(readCookie('', 'fulcrum_session'), undefined);
  assert.equal(readCookie(null, 'fulcrum_session'), undefined);
});

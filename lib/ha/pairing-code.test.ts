/** Pairing codes and proofs (pairing-code.ts): what a person may type, and that a proof is bound to both views. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isProofValid, newNonce, newPairingCode, normalisePairingCode, pairingCodeHash, pairingProof } from './pairing-code.ts';

describe('pairing codes', () => {
  it('are 12 characters of Crockford base32 in three groups, different each time', () => {
    const codes = new Set(Array.from({ length: 200 }, newPairingCode));
    assert.equal(codes.size, 200);
    for (const c of codes) assert.match(c, /^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
  });

  const cases: [string, string | undefined][] = [
    ['7K2M-Q9PX-4D1R', '7K2MQ9PX4D1R'],
    ['7k2m q9px 4d1r', '7K2MQ9PX4D1R'],
    ['7K2M-Q9PX-4DIR', '7K2MQ9PX4D1R'], // I read as 1
    ['7K2M-Q9PX-4DLR', '7K2MQ9PX4D1R'], // L read as 1
    ['7K2M-Q9PX-4DOR', '7K2MQ9PX4D0R'], // O read as 0
    ['7K2M-Q9PX-4D1', undefined], // too short
    ['7K2M-Q9PX-4D1RR', undefined], // too long
    ['7K2M-Q9PX-4DUR', undefined], // U is not in the alphabet
    ['', undefined],
  ];
  for (const [typed, want] of cases) {
    it(`"${typed}" → ${want ?? 'not a code'}`, () => assert.equal(normalisePairingCode(typed), want));
  }

  it('hash the same however the code was typed', () => {
    assert.equal(pairingCodeHash('7k2m-q9px-4dir'), pairingCodeHash('7K2MQ9PX4D1R'));
    assert.notEqual(pairingCodeHash('7K2MQ9PX4D1R'), pairingCodeHash('7K2MQ9PX4D1S'));
  });
});

describe('pairing proofs', () => {
  const code = pairingCodeHash('7K2M-Q9PX-4D1R');
  const P = 'AA:01';
  const S = 'BB:02';
  const nonce = newNonce();

  it('check when both sides saw the same two certificates and the same code', () => {
    assert.ok(isProofValid(pairingProof(code, 'secondary', P, S, nonce), pairingProof(code, 'secondary', P, S, nonce)));
  });

  it('do not check when anything differs: the code, a certificate (someone in between), the side, the nonce', () => {
    const sent = pairingProof(code, 'secondary', P, S, nonce);
    assert.ok(!isProofValid(pairingProof(pairingCodeHash('7K2M-Q9PX-4D1S'), 'secondary', P, S, nonce), sent));
    assert.ok(!isProofValid(pairingProof(code, 'secondary', 'MM:01', S, nonce), sent), 'a MITM presents its own server certificate');
    assert.ok(!isProofValid(pairingProof(code, 'secondary', P, 'MM:02', nonce), sent), 'a MITM presents its own client certificate');
    assert.ok(!isProofValid(pairingProof(code, 'primary', P, S, nonce), sent), 'a proof cannot be reflected back');
    assert.ok(!isProofValid(pairingProof(code, 'secondary', P, S, newNonce()), sent), 'a proof cannot be replayed with another nonce');
    assert.ok(!isProofValid(pairingProof(code, 'secondary', P, S, nonce), 'not hex'));
  });
});

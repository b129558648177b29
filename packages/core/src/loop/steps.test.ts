// Each step of core's request loop on its own, against a stub `next` that records the
// requests it gets and answers from a script: no sockets, calls counted.
import { describe, expect, test } from 'vitest';
import { ErrorCodes, createToken, type AuthRequest, type AuthResponse, type Token } from '@authrail/core';
import { EventSink } from '../events.js';
import type { RejectedEvent, UncredentialedEvent } from '../events.js';
import type { RequestPolicy } from '../policies/types.js';
import type { DPoPProver } from '../source.js';
import { bearer } from '../policies/bearer.js';
import { authorize, MAX_UNCREDENTIALED_ORIGINS } from './authorize.js';
import type { Call, LoopConfig } from './call.js';
import { answerDPoPNonce } from './dpop-nonce.js';
import { followRedirects } from './redirects.js';

const API = 'https://api.example.org';

/** An answer of the stub: status, headers, the URL that answered; whether it was discarded. */
function answer(status: number, headers: Record<string, string> = {}, url = '') {
  const response = {
    status,
    headers: new Headers(headers),
    url,
    discarded: false,
    discard() {
      response.discarded = true;
    },
  };
  return response;
}
type Answer = ReturnType<typeof answer>;

/** A `next` that records every request and answers from `script` in turn (then 200). */
function stub(...script: Answer[]) {
  const sent: AuthRequest[] = [];
  const answers: Answer[] = [];
  const next = (request: AuthRequest): Promise<AuthResponse> => {
    sent.push(request);
    const response = script.shift() ?? answer(200);
    answers.push(response);
    return Promise.resolve(response);
  };
  return { next: next as <R extends AuthResponse>(r: AuthRequest) => Promise<R>, sent, answers };
}

function request(url: string, init: Partial<AuthRequest> = {}): AuthRequest {
  return {
    method: 'GET',
    url: new URL(url),
    headers: new Headers(),
    body: null,
    redirect: 'follow',
    ...init,
  };
}

/** A loop config with a token per `getToken` call (t-1, t-2, …), and what it reported. */
function setup(extra: Partial<LoopConfig> = {}) {
  const rejected: RejectedEvent[] = [];
  const uncredentialed: UncredentialedEvent[] = [];
  const invalidated: Token[] = [];
  let issued = 0;
  let current = createToken({ accessToken: `t-${++issued}` });
  const config: LoopConfig = {
    allowedPrefixes: [`${API}/`],
    policies: [bearer()],
    rejectWhen: 'unauthorized',
    sink: new EventSink(
      { rejected: (e) => rejected.push(e), uncredentialed: (e) => uncredentialed.push(e) },
      false, // the events are what these tests read; no warnings on the console
    ),
    getToken: () => current,
    invalidate: (token) => {
      invalidated.push(token);
      current = createToken({ accessToken: `t-${++issued}` });
      return Promise.resolve();
    },
    uncredentialed: new Set(),
    dpop: undefined,
    ...extra,
  };
  const call: Call = { config, signal: undefined, downgraded: false, used: undefined };
  return { call, config, rejected, uncredentialed, invalidated };
}

describe('followRedirects', () => {
  test('follows hop by hop: each hop sent with redirect manual; 303 POST becomes a GET without its body', async () => {
    const { call } = setup();
    const { next, sent, answers } = stub(answer(303, { location: '/see-other' }), answer(200));
    const body = new Uint8Array([1, 2, 3]);
    const first = request(`${API}/form`, {
      method: 'POST',
      body,
      headers: new Headers({ 'content-type': 'application/octet-stream' }),
    });
    const response = await followRedirects(call)(first, next);
    expect(response.status).toBe(200);
    expect(sent.map((r) => [r.method, r.url.href, r.redirect, r.body])).toEqual([
      ['POST', `${API}/form`, 'manual', body],
      ['GET', `${API}/see-other`, 'manual', null],
    ]);
    expect(sent[1]!.headers.has('content-type')).toBe(false);
    expect(answers[0]!.discarded).toBe(true);
  });

  test('307 resends the same method and bytes; a stream body is not sent again (the 3xx returned)', async () => {
    const { call } = setup();
    const replayable = stub(answer(307, { location: '/again' }), answer(200));
    await followRedirects(call)(request(`${API}/put`, { method: 'PUT', body: 'xml' }), replayable.next);
    expect(replayable.sent.map((r) => [r.method, r.body])).toEqual([
      ['PUT', 'xml'],
      ['PUT', 'xml'],
    ]);
    const stream = stub(answer(307, { location: '/again' }));
    const response = await followRedirects(call)(
      request(`${API}/put`, { method: 'PUT', body: 'stream', bodyIsStream: true }),
      stream.next,
    );
    expect(response.status).toBe(307);
    expect(stream.sent).toHaveLength(1);
  });

  test("the caller's manual gets the 3xx; error throws a RedirectError; more than the limit throws", async () => {
    const { call } = setup();
    const manual = stub(answer(302, { location: '/x' }));
    expect(
      (await followRedirects(call)(request(`${API}/a`, { redirect: 'manual' }), manual.next)).status,
    ).toBe(302);
    expect(manual.sent).toHaveLength(1);
    const refusing = stub(answer(302, { location: '/x' }));
    await expect(
      followRedirects(call)(request(`${API}/a`, { redirect: 'error' }), refusing.next),
    ).rejects.toMatchObject({ code: ErrorCodes.REDIRECT });
    expect(refusing.answers[0]!.discarded).toBe(true);
    const loop = stub(...Array.from({ length: 5 }, () => answer(302, { location: '/loop' })));
    await expect(followRedirects(call, 3)(request(`${API}/loop`), loop.next)).rejects.toThrow(
      /more than 3 redirects/,
    );
    expect(loop.sent).toHaveLength(4);
  });

  test("a cross-origin hop leaves the caller's Authorization and Cookie behind; https → http marks the hop", async () => {
    const { call } = setup();
    const { next, sent } = stub(answer(302, { location: 'http://other.example/landed' }), answer(200));
    const headers = new Headers({ authorization: 'Basic mine', cookie: 'a=1', accept: 'text/plain' });
    await followRedirects(call)(request(`${API}/go`, { headers }), next);
    expect([...sent[1]!.headers]).toEqual([['accept', 'text/plain']]);
    expect(call.downgraded).toBe(true);
  });
});

describe('authorize', () => {
  test('a hop to an allowed origin gets the credential on its own copy; the caller’s request is unchanged', async () => {
    const { call } = setup();
    const { next, sent } = stub();
    const caller = request(`${API}/x?a=1`);
    await authorize(call)(caller, next);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.get('authorization')).toBe('Bearer t-1');
    expect(sent[0]!.url).not.toBe(caller.url);
    expect(caller.headers.has('authorization')).toBe(false);
    expect(call.used?.accessToken).toBe('t-1');
  });

  test('a 401 invalidates exactly the used token and replays once; a second 401 is returned', async () => {
    const { call, invalidated, rejected } = setup();
    const { next, sent, answers } = stub(answer(401), answer(401));
    const response = await authorize(call)(request(`${API}/x`), next);
    expect(response.status).toBe(401);
    expect(sent.map((r) => r.headers.get('authorization'))).toEqual(['Bearer t-1', 'Bearer t-2']);
    expect(invalidated.map((t) => t.accessToken)).toEqual(['t-1']);
    expect(rejected.map((e) => [e.reason, e.replay])).toEqual([
      ['replaying', true],
      ['already-replayed', false],
    ]);
    expect(answers[0]!.discarded).toBe(true);
  });

  test('a stream body: the token is invalidated, the hop is not replayed', async () => {
    const { call, invalidated, rejected } = setup();
    const { next, sent } = stub(answer(401));
    await authorize(call)(request(`${API}/x`, { method: 'POST', body: 's', bodyIsStream: true }), next);
    expect(sent).toHaveLength(1);
    expect(invalidated).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ reason: 'body-not-replayable', replay: false });
  });

  test('insufficient_scope, a 403, a 401 from another origin: no invalidation, no replay', async () => {
    for (const response of [
      answer(403, { 'www-authenticate': 'Bearer error="insufficient_scope", scope="a b"' }),
      answer(403),
      answer(401, {}, 'https://elsewhere.example/x'),
    ]) {
      const { call, invalidated } = setup();
      const { next, sent } = stub(response);
      await authorize(call)(request(`${API}/x`), next);
      expect(sent).toHaveLength(1);
      expect(invalidated).toHaveLength(0);
    }
  });

  test("rejectWhen 'invalid-token': a plain 401 is returned; an invalid_token challenge is replayed", async () => {
    const plain = setup({ rejectWhen: 'invalid-token' });
    const once = stub(answer(401));
    await authorize(plain.call)(request(`${API}/x`), once.next);
    expect(once.sent).toHaveLength(1);
    const challenged = setup({ rejectWhen: 'invalid-token' });
    const twice = stub(answer(401, { 'www-authenticate': 'Bearer error="invalid_token"' }));
    await authorize(challenged.call)(request(`${API}/x`), twice.next);
    expect(twice.sent).toHaveLength(2);
  });

  test('a hop elsewhere is sent untouched, and said once per origin, up to a bound', async () => {
    const { call, uncredentialed } = setup();
    const { next, sent } = stub();
    for (let i = 0; i < MAX_UNCREDENTIALED_ORIGINS + 44; i += 1) {
      await authorize(call)(request(`https://o${i}.example/x`), next);
      await authorize(call)(request(`https://o${i}.example/y`), next);
    }
    expect(sent.every((r) => !r.headers.has('authorization'))).toBe(true);
    expect(uncredentialed).toHaveLength(MAX_UNCREDENTIALED_ORIGINS);
    expect(call.config.uncredentialed.size).toBe(MAX_UNCREDENTIALED_ORIGINS);
  });

  test('a hop reached by https → http gets no credential even on an allowed origin', async () => {
    const { call } = setup({ allowedPrefixes: [`${API}/`, 'http://api.example.org/'] });
    call.downgraded = true;
    const { next, sent } = stub();
    await authorize(call)(request('http://api.example.org/x'), next);
    expect(sent[0]!.headers.has('authorization')).toBe(false);
  });

  test('regression (issue 22): a policy that moves the request to another origin sends nothing', async () => {
    const moving: RequestPolicy = (hop) => {
      hop.url.host = 'evil.example';
    };
    const { call } = setup({ policies: [moving, bearer()] });
    const { next, sent } = stub();
    await expect(authorize(call)(request(`${API}/x`), next)).rejects.toMatchObject({
      code: ErrorCodes.ORIGIN_NOT_ALLOWED,
    });
    expect(sent).toHaveLength(0);
  });

  test("a policy's 'skip' sends the hop without any policy's changes", async () => {
    const skip: RequestPolicy = (hop) => {
      hop.headers.set('x-tenant', 'a');
      return 'skip';
    };
    const { call } = setup({ policies: [skip, bearer()] });
    const { next, sent } = stub();
    await authorize(call)(request(`${API}/public`), next);
    expect([...sent[0]!.headers]).toEqual([]);
  });

  test('where the runtime follows redirects: a credential it would forward is sent manual, its redirect refused', async () => {
    const apiKey: RequestPolicy = (hop) => hop.headers.set('x-key', 'k-123456');
    const { call } = setup({ policies: [apiKey], getToken: undefined, invalidate: undefined });
    const { next, sent } = stub(answer(0));
    await expect(authorize(call, true)(request(`${API}/x`), next)).rejects.toMatchObject({
      code: ErrorCodes.REDIRECT,
    });
    expect(sent[0]!.redirect).toBe('manual');
  });
});

describe('answerDPoPNonce', () => {
  function prover() {
    const proofs: string[] = [];
    const nonces: string[] = [];
    const dpop: DPoPProver = {
      addProof: (url, headers) => {
        const proof = `proof-${proofs.length + 1}${nonces.length ? `-${nonces.at(-1)}` : ''}`;
        proofs.push(proof);
        headers.set('dpop', proof);
        return Promise.resolve();
      },
      cacheNonce: (response) => {
        const nonce = response.headers.get('dpop-nonce');
        if (nonce) nonces.push(nonce);
      },
    };
    return { dpop, proofs, nonces };
  }
  const dpopToken = createToken({ accessToken: 'd-1', tokenType: 'DPoP' });
  const useNonce = (nonce: string) =>
    answer(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': nonce });

  test('use_dpop_nonce: sent once more with a new proof carrying the nonce, the same token; once per call', async () => {
    const { dpop, nonces } = prover();
    const { call, rejected } = setup({ dpop });
    call.used = dpopToken;
    const { next, sent } = stub(useNonce('n-1'), useNonce('n-2'));
    const response = await answerDPoPNonce(call)(
      request(`${API}/x`, { headers: new Headers({ authorization: 'DPoP d-1', dpop: 'proof-0' }) }),
      next,
    );
    expect(response.status).toBe(401);
    expect(sent.map((r) => [r.headers.get('authorization'), r.headers.get('dpop')])).toEqual([
      ['DPoP d-1', 'proof-0'],
      ['DPoP d-1', 'proof-1-n-1'],
    ]);
    expect(nonces).toEqual(['n-1', 'n-2']);
    expect(rejected.map((e) => e.reason)).toEqual(['dpop-nonce', 'already-replayed']);
  });

  test('not answered: without a nonce header, for a stream body, for a Bearer token, or with no prover', async () => {
    const { dpop } = prover();
    const cases: [Partial<LoopConfig>, Token, Partial<AuthRequest>, Answer][] = [
      [{ dpop }, dpopToken, {}, answer(401, { 'www-authenticate': 'DPoP error="use_dpop_nonce"' })],
      [{ dpop }, dpopToken, { body: 's', bodyIsStream: true }, useNonce('n')],
      [{ dpop }, createToken({ accessToken: 'b' }), {}, useNonce('n')],
      [{}, dpopToken, {}, useNonce('n')],
    ];
    for (const [extra, token, init, response] of cases) {
      const { call } = setup(extra);
      call.used = token;
      const { next, sent } = stub(response);
      expect((await answerDPoPNonce(call)(request(`${API}/x`, init), next)).status).toBe(401);
      expect(sent).toHaveLength(1);
    }
  });
});

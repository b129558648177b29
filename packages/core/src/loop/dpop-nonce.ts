/**
 * The step that answers a DPoP nonce (RFC 9449 §8, §9): the server's nonce is kept from
 * every response to a hop that carried a DPoP token, and a 401 `use_dpop_nonce` is sent
 * once more with a new proof that carries it. The token is fine: it is not replaced.
 *
 * @module
 */
import type { AuthRequest } from '../transport.js';
import { challengeFor, rejected, shown, type Call, type Step } from './call.js';

/** Sends a hop once more with the nonce the server asked for; once per call. */
export function answerDPoPNonce(call: Call): Step {
  let answered = false;
  return async (request, next) => {
    for (let hop: AuthRequest = request; ;) {
      const response = await next(hop);
      const { dpop, sink } = call.config;
      const token = call.used;
      if (!dpop || !token) return response;
      // A server may send a new nonce on any response; the next proof carries it.
      dpop.cacheNonce(response, hop.url);
      if (response.status !== 401 || token.tokenType !== 'DPoP') return response;
      const challenge = challengeFor(response, 'DPoP');
      if (challenge?.parameters.error !== 'use_dpop_nonce') return response;
      const event = { method: hop.method, url: shown(hop.url), status: 401 };
      if (answered || hop.bodyIsStream || !response.headers.get('dpop-nonce')) {
        const reason = hop.bodyIsStream ? 'body-not-replayable' : 'already-replayed';
        rejected(sink, { ...event, replay: false, reason }, challenge);
        return response;
      }
      rejected(sink, { ...event, replay: true, reason: 'dpop-nonce' }, challenge);
      answered = true;
      await response.discard();
      hop = { ...hop, headers: new Headers(hop.headers) };
      await dpop.addProof(hop.url, hop.headers, hop.method, token.accessToken);
    }
  };
}

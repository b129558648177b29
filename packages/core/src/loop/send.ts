/**
 * Core's request loop, behind {@link AuthStrategy.send}: the steps, composed once per
 * call, the transport last. A new concern (a proxy's 407, a step-up on
 * `insufficient_scope`) is a new step here, not a new branch in another.
 *
 * @module
 */
import type { AuthRequest, AuthResponse, SendOptions, Transport } from '../transport.js';
import { authorize } from './authorize.js';
import { compose, type Call, type LoopConfig } from './call.js';
import { answerDPoPNonce } from './dpop-nonce.js';
import { followRedirects } from './redirects.js';

/**
 * Sends `request` through the loop: redirects followed hop by hop (unless the runtime
 * follows them out of sight), each hop authorized (and replayed once when its credential
 * is rejected), a DPoP nonce answered.
 */
export function sendWithAuth<R extends AuthResponse>(
  config: LoopConfig,
  request: AuthRequest,
  transport: Transport<R>,
  options: SendOptions | undefined,
): Promise<R> {
  const call: Call = { config, signal: options?.signal, downgraded: false, used: undefined };
  const transportFollowsRedirects = options?.transportFollowsRedirects === true;
  const steps = transportFollowsRedirects
    ? [authorize(call, true)]
    : [followRedirects(call, options?.maxRedirects), authorize(call)];
  // Only a strategy whose tokens are bound to a key has nonces to answer.
  if (config.dpop) steps.push(answerDPoPNonce(call));
  return compose(steps, transport)(loopRequest(request));
}

/**
 * The loop's own view of the caller's request, every field present: the copies the steps
 * make of it (`{ ...request, url }`) then only replace fields. On Node 20 (V8 11) a spread
 * that adds a field the source lacks takes a slow path of ~1 µs.
 */
function loopRequest(request: AuthRequest): AuthRequest {
  return {
    method: request.method,
    url: request.url,
    headers: request.headers,
    body: request.body ?? null,
    bodyIsStream: request.bodyIsStream === true,
    redirect: request.redirect ?? 'follow',
  };
}

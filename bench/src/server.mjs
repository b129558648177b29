// The servers the benchmarks call: a loopback keep-alive HTTP server in its own process, so
// it never competes with the client for the event loop. Prints its URL, serves until killed.
//
//   GET  /fhir/Patient   the overhead workload's API: 200 to anything, as fast as it can
//   POST /token          a client-credentials token endpoint: waits `latencyMs`, then issues
//                        a JWT-shaped token (unsigned: nothing here checks signatures) that
//                        lives `lifetimeS` seconds
//   GET  /api/…          an API that checks tokens: 200 to a token it issued that is neither
//                        expired nor revoked, else 401 `Bearer error="invalid_token"`
//   POST /control        { latencyMs?, lifetimeS?, apiDelayMs?, hold?, revoke?, reset?, resetStats? }
//   GET  /stats          what it counted since the last reset
//
// `hold: n` keeps the next n API requests waiting until all n have arrived, then revokes
// every token issued so far and answers them: the revocation storm, n requests in flight.
import { createServer } from 'node:http';

const body = JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 });
const settings = { latencyMs: 50, lifetimeS: 3600, apiDelayMs: 0 };
/** Token → when it expires (ms). */
const issued = new Map();
let stats = fresh();
let generation = 0;
let held = undefined;

function fresh() {
  return { tokenRequests: 0, apiRequests: 0, unauthorized: 0, withoutToken: 0, tokenTimes: [] };
}

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

function issue() {
  generation += 1;
  const now = Date.now();
  const expiresAt = now + settings.lifetimeS * 1000;
  const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
    iss: 'bench',
    sub: 'bench-client',
    iat: Math.floor(now / 1000),
    exp: Math.floor(expiresAt / 1000),
    jti: `${generation}`,
  })}.bench-signature-${generation}`;
  issued.set(token, expiresAt);
  return token;
}

function send(res, status, headers, text) {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Ends a hold: revokes every token issued so far, then answers the held requests. */
function release() {
  if (!held) return;
  const { waiting, timer } = held;
  clearTimeout(timer);
  held = undefined;
  issued.clear();
  for (const answer of waiting) answer();
}

function answerApi(req, res) {
  const authorization = req.headers.authorization ?? '';
  const token = authorization.startsWith('Bearer ') ? authorization.slice(7) : '';
  const expiresAt = issued.get(token);
  if (!token) stats.withoutToken += 1;
  if (expiresAt === undefined || expiresAt <= Date.now()) {
    stats.unauthorized += 1;
    send(res, 401, { 'www-authenticate': 'Bearer error="invalid_token"' }, '');
    return;
  }
  send(res, 200, { 'content-type': 'application/json' }, body);
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const url = req.url ?? '/';
    if (url.startsWith('/fhir/')) {
      send(res, 200, { 'content-type': 'application/json' }, body);
    } else if (url === '/token' && req.method === 'POST') {
      stats.tokenRequests += 1;
      stats.tokenTimes.push(Date.now());
      setTimeout(() => {
        const token = issue();
        send(
          res,
          200,
          { 'content-type': 'application/json', 'cache-control': 'no-store' },
          JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: settings.lifetimeS }),
        );
      }, settings.latencyMs);
    } else if (url.startsWith('/api/')) {
      stats.apiRequests += 1;
      if (held) {
        held.waiting.push(() => answerApi(req, res));
        if (held.waiting.length >= held.count) release();
      } else if (settings.apiDelayMs > 0) setTimeout(() => answerApi(req, res), settings.apiDelayMs);
      else answerApi(req, res);
    } else if (url === '/control' && req.method === 'POST') {
      const control = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      for (const key of ['latencyMs', 'lifetimeS', 'apiDelayMs'])
        if (typeof control[key] === 'number') settings[key] = control[key];
      if (control.resetStats) stats = fresh();
      if (control.reset) {
        stats = fresh();
        issued.clear();
        held = undefined;
      }
      if (control.revoke) issued.clear();
      if (typeof control.hold === 'number') {
        // A client that cannot have that many requests in flight is released after 5 s.
        held = { count: control.hold, waiting: [], timer: setTimeout(release, 5_000) };
      }
      send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(settings));
    } else if (url === '/stats') {
      send(res, 200, { 'content-type': 'application/json' }, JSON.stringify(stats));
    } else send(res, 404, {}, '');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', 4096, () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
process.on('disconnect', () => process.exit(0));

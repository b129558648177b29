// The API the benchmarks call: a loopback keep-alive HTTP server in its own process, so
// it never competes with the client for the event loop. Prints its URL, serves until killed.
import { createServer } from 'node:http';

const body = JSON.stringify({ resourceType: 'Bundle', type: 'searchset', total: 0 });
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
});
process.on('disconnect', () => process.exit(0));

/**
 * Child process of the layer 7 benchmark: @fastify/http-proxy, the Node peer, on 2 cluster workers like Fulcrum,
 * keep-alive to the backend (undici pool) and X-Forwarded-For added. argv[2] is JSON:
 * { upstream, httpPort, tlsPort, cert, key }.
 */
import cluster from 'node:cluster';
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const o = JSON.parse(process.argv[2]);

if (cluster.isPrimary) {
  for (let i = 0; i < 2; i++) cluster.fork();
  let ready = 0;
  cluster.on('message', (_w, m) => {
    if (m === 'ready' && ++ready === 2) console.log('ready');
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else {
  const build = async (https?: { cert: string; key: string }) => {
    // Typed loosely: fastify's overloads for http and https servers do not unify.
    const app = (https ? Fastify({ https }) : Fastify()) as unknown as ReturnType<typeof Fastify>;
    await app.register(proxy, {
      upstream: o.upstream,
      replyOptions: {
        rewriteRequestHeaders: (req: { ip: string }, headers: Record<string, string | string[] | undefined>) => ({
          ...headers,
          'x-forwarded-for': headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${req.ip}` : req.ip,
        }),
      },
      undici: { connections: 128, pipelining: 1, keepAliveTimeout: 60_000 },
    });
    return app;
  };
  const plain = await build();
  await plain.listen({ host: '127.0.0.1', port: o.httpPort });
  const secure = await build({ cert: o.cert, key: o.key });
  await secure.listen({ host: '127.0.0.1', port: o.tlsPort });
  process.send!('ready');
}

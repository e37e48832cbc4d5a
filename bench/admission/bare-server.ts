/**
 * The baseline of bench/admission (b): a bare Fastify route that parses a JSON body like an admission
 * request and answers a JSON body of the same size as an admitted decision, with no framework, no
 * auth, no state and no Kafka. Run as its own process, like the service, on BARE_PORT.
 */
import Fastify from 'fastify';

const port = Number(process.env.BARE_PORT ?? 7199);
const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
let n = 0;
app.post('/v1/admissions', async (request) => {
  const body = request.body as { requestId: string; accountId: string };
  n++;
  return {
    decision: 'admitted',
    admissionId: `01a2135f-f283-70c0-94eb-${String(n).padStart(12, '0')}`,
    requestId: body.requestId,
    estimatedCredits: 2,
    fundedBy: [{ source: 'allowance', window: '5h', credits: 2 }],
    reservationExpiresAt: '2026-11-25T16:13:04.835Z',
    priceBookVersion: '2026-11-01',
    limits: [
      { name: 'user.requests_per_minute', limit: 3000, remaining: 2999, resetMs: 20 },
      { name: 'user.concurrent_requests', limit: 100, remaining: 99, resetMs: 3600000 },
      { name: 'account.credits_per_minute', limit: 300000, remaining: 299998, resetMs: 0 },
      { name: 'allowance.code.5h', limit: 100000, remaining: 99998, resetMs: 150000 },
      { name: 'allowance.code.7d', limit: 500000, remaining: 499998, resetMs: 5040000 },
    ],
    decidedBy: 'allowance',
    heldCredits: 0,
    plan: 'enterprise',
    multipliers: { load: 1, reputation: 1 },
    decidedAt: '2026-11-25T15:43:04.835Z',
  };
});
app.get('/health/ready', async () => ({ status: 'ready' }));
void app.listen({ port, host: '127.0.0.1' });

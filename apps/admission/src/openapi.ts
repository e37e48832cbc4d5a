import { admissionRequestSchema, completionRequestSchema } from '@access/admission-adapters';
import { openApiDocument } from '@access/platform-http';

/** OpenAPI 3.1 of the admission API, from the same zod schemas the controller validates with. */
export function admissionOpenApi(): object {
  return openApiDocument('admission', '1', [
    {
      method: 'post',
      path: '/v1/admissions',
      summary: 'Decide whether a request may run now and who pays (the waterfall: protective limits, load shedding, allowance, credits).',
      scope: 'admission:decide',
      body: admissionRequestSchema,
      responses: {
        200: { description: 'admitted: {decision, admissionId, requestId, estimatedCredits, fundedBy, reservationExpiresAt, priceBookVersion, limits}; RateLimit-Policy, RateLimit and x-ratelimit-* headers' },
        400: { description: 'a malformed field, an unknown model or priority, a meter the model does not have, a negative or non-finite quantity (errors names each field)' },
        402: { description: 'insufficient_credits, with estimatedCredits and availableCredits' },
        409: { description: 'the requestId was already decided with a different body' },
        413: { description: 'the body is larger than 16 KiB' },
        429: { description: 'rate_limited, concurrency_limited or load_shed, with retryAfterMs and limits; Retry-After and RateLimit headers' },
        503: { description: 'not ready (state still being rebuilt) or the decision could not be made durable; Retry-After' },
      },
    },
    {
      method: 'post',
      path: '/v1/admissions/{admissionId}/complete',
      summary: 'Report that an admitted request finished (the usage.request_completed event, for callers that do not speak Kafka).',
      scope: 'admission:decide',
      parameters: [{ name: 'admissionId', in: 'path', description: 'the admissionId of the 200 answer' }],
      body: completionRequestSchema,
      responses: {
        202: { description: 'published (durable) and applied; completing twice is a no-op answered 202' },
        400: { description: 'a malformed field, or admissionId differs from the path' },
        503: { description: 'not ready, or the completion could not be made durable; Retry-After' },
      },
    },
  ]);
}

/**
 * The ledger's HTTP bodies and answers as zod schemas: the controllers validate with them and the OpenAPI
 * document at /docs is built from the same schemas, so the two cannot drift.
 */
import { z } from 'zod';
import { idSchema, isoTimeSchema, storableText } from '@access/contracts';
import { ledgerLimits } from '@access/credit-ledger-domain';
import type { Operation } from '@access/platform-http';

const creditsMax = ledgerLimits.creditsPerCommandMax;
/** The contract's reason bound (ledger events carry reasons of at most 500 characters). */
const reasonLengthMax = 500;

export const accountIdParam = z.object({ accountId: idSchema });

export const putAccountBody = z.strictObject({ plan: storableText(z.string().min(1).max(64)) });

export const grantBody = z.strictObject({
  grantId: idSchema,
  credits: z.int().min(1).max(creditsMax),
  source: z.enum(['purchase', 'promo', 'plan', 'enterprise']),
  priority: z.int().min(0).max(ledgerLimits.priorityMax).optional(),
  effectiveAt: isoTimeSchema.optional(),
  expiresAt: isoTimeSchema.nullable().optional(),
});
export type GrantBody = z.infer<typeof grantBody>;

export const adjustmentBody = z.strictObject({
  adjustmentId: idSchema,
  credits: z
    .int()
    .min(-creditsMax)
    .max(creditsMax)
    .refine((c) => c !== 0, 'must not be 0'),
  reason: storableText(z.string().max(reasonLengthMax)).refine((r) => r.trim().length > 0, 'must not be blank'),
});
export type AdjustmentBody = z.infer<typeof adjustmentBody>;

export const eventsQuery = z.strictObject({
  afterVersion: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1_000).default(100),
});

const grantView = z.object({
  grantId: z.string(),
  source: z.string(),
  priority: z.int(),
  remainingCredits: z.int(),
  heldCredits: z.int(),
  effectiveAt: z.string(),
  expiresAt: z.string().nullable(),
  status: z.enum(['pending', 'active', 'expired']),
});

export const balanceResponse = z.object({
  accountId: z.string(),
  plan: z.string().nullable(),
  balanceCredits: z.int(),
  heldCredits: z.int(),
  availableCredits: z.int(),
  pendingCredits: z.int(),
  overshootCredits: z.int(),
  grants: z.array(grantView),
  version: z.int(),
  asOf: z.string().nullable(),
});

const grantResponse = z.object({
  accountId: z.string(),
  grantId: z.string(),
  credits: z.int(),
  source: z.string(),
  priority: z.int(),
  effectiveAt: z.string(),
  expiresAt: z.string().nullable(),
  recordedAt: z.string(),
});

const adjustmentResponse = z.object({
  accountId: z.string(),
  adjustmentId: z.string(),
  credits: z.int(),
  reason: z.string(),
  recordedAt: z.string(),
});

const eventsResponse = z.object({
  accountId: z.string(),
  events: z.array(z.object({ version: z.int(), type: z.string(), id: z.string(), occurredAt: z.string(), data: z.record(z.string(), z.unknown()) })),
  nextAfterVersion: z.int(),
});

const accountPath = { name: 'accountId', in: 'path' as const };
const invalid = { description: 'Invalid input (problem+json naming each field, code LEDGER.INVALID_REQUEST); nothing was written' };
const notFound = { description: 'No such account (LEDGER.ACCOUNT_NOT_FOUND)' };
const conflict = { description: 'The same id was recorded with another body (LEDGER.CONFLICT); nothing was written' };

export const operations: Operation[] = [
  {
    method: 'put',
    path: '/v1/accounts/{accountId}',
    summary: 'Open the account or change its plan (idempotent)',
    scope: 'ledger:write',
    parameters: [accountPath],
    body: putAccountBody,
    responses: { 201: { description: 'Opened', schema: balanceResponse }, 200: { description: 'Plan changed, or already on this plan', schema: balanceResponse }, 400: invalid },
  },
  {
    method: 'get',
    path: '/v1/accounts/{accountId}/balance',
    summary: 'Balance, holds, available credits and live grants in burn order, as of now',
    scope: 'ledger:read',
    parameters: [accountPath],
    responses: { 200: { description: 'The balance', schema: balanceResponse }, 400: invalid, 404: notFound },
  },
  {
    method: 'post',
    path: '/v1/accounts/{accountId}/grants',
    summary: 'Grant credits (idempotent by grantId)',
    scope: 'ledger:write',
    parameters: [accountPath],
    body: grantBody,
    responses: { 201: { description: 'Granted', schema: grantResponse }, 200: { description: 'Already granted with this body', schema: grantResponse }, 400: invalid, 404: notFound, 409: conflict },
  },
  {
    method: 'post',
    path: '/v1/accounts/{accountId}/adjustments',
    summary: 'Adjust the balance by a signed amount (idempotent by adjustmentId)',
    scope: 'ledger:admin',
    parameters: [accountPath],
    body: adjustmentBody,
    responses: { 201: { description: 'Adjusted', schema: adjustmentResponse }, 200: { description: 'Already adjusted with this body', schema: adjustmentResponse }, 400: invalid, 404: notFound, 409: conflict },
  },
  {
    method: 'get',
    path: '/v1/accounts/{accountId}/events',
    summary: "The account's ledger events in stream order",
    scope: 'ledger:read',
    parameters: [accountPath, { name: 'afterVersion', in: 'query' }, { name: 'limit', in: 'query', description: '1..1000, default 100' }],
    responses: { 200: { description: 'A page of events', schema: eventsResponse }, 400: invalid, 404: notFound },
  },
];

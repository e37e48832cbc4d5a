import type { AdmissionDecidedV1, UsageRequestCompletedV1 } from '@access/contracts';

/**
 * Where decisions and completions go (Kafka in production, memory in tests). Each promise resolves when
 * the event is durable (acknowledged by all in-sync replicas) and rejects when it could not be made so.
 */
export interface DecisionSink {
  publishDecision(data: AdmissionDecidedV1, traceparent?: string): Promise<void>;
  publishCompletion(data: UsageRequestCompletedV1, traceparent?: string): Promise<void>;
}

/** Which accounts this replica decides for (the owner of the account's partition). */
export interface Ownership {
  owns(accountId: string): boolean;
}

/**
 * What a DecisionSink rejects with when this replica may no longer write the account's partition (another replica
 * took it over and fenced this one): the decision was not made durable and never will be.
 */
export class NotOwnerError extends Error {
  readonly notOwner = true;
  constructor(message: string) {
    super(message);
    this.name = 'NotOwnerError';
  }
}

export function isNotOwnerError(error: unknown): error is NotOwnerError {
  return error instanceof NotOwnerError || (typeof error === 'object' && error !== null && (error as { notOwner?: unknown }).notOwner === true);
}

/** Time is an input: the service reads it here, once per use case, and hands it to the domain. */
export interface Clock {
  nowMs(): number;
}

/** admissionIds: UUIDv7, strictly increasing (`newEventId` in production). */
export interface IdSource {
  next(): string;
}

/** Counters the service reports; the app wires them to Prometheus. All optional. */
export interface ServiceObserver {
  decided?(decision: 'admitted' | 'rejected', reason: string | null, replayed: boolean): void;
  rejectedPublishFailed?(error: unknown): void;
  admittedPublishFailed?(error: unknown): void;
  idempotencyEvicted?(count: number): void;
  completionUnpriced?(admissionId: string, reason: string): void;
}

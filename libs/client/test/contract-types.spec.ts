/**
 * The package declares the API's shapes itself (it must not depend on the monorepo); here the compiler checks
 * them against the contract schemas, and a golden event's data passes through the client's types unchanged.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { goldenEvent, type AppliedLimit as ContractLimit, type Funding as ContractFunding, type Priority as ContractPriority, type RejectionReason as ContractReason, type UsageRequestCompletedV1 } from '@access/contracts';
import type { AppliedLimit, Funding, Priority, RejectionReason, Usage } from '../src';

describe('client types follow the contracts', () => {
  it('enumerations and records are the same sets', () => {
    expectTypeOf<Priority>().toEqualTypeOf<ContractPriority>();
    expectTypeOf<RejectionReason>().toEqualTypeOf<ContractReason>();
    expectTypeOf<ContractFunding>().toExtend<Funding>();
    expectTypeOf<ContractLimit>().toEqualTypeOf<AppliedLimit>();
    expectTypeOf<Omit<UsageRequestCompletedV1, 'admissionId'>>().toEqualTypeOf<Usage>();
  });

  it('a golden completion is a Usage', () => {
    const { admissionId, ...usage } = goldenEvent('io.access.usage.request_completed.v1').data;
    const typed: Usage = usage;
    expect(typed.status).toMatch(/^(succeeded|failed|cancelled)$/);
    expect(admissionId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

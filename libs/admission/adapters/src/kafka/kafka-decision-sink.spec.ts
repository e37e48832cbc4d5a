import { describe, expect, it } from 'vitest';
import { TOPICS, goldenEvent, parseEvent } from '@access/contracts';
import { completedEnvelope, decidedEnvelope } from './kafka-decision-sink';

describe('envelopes assembled without makeEvent', () => {
  it('given decision data, then the envelope is what consumers of access.admissions.v1 accept', () => {
    const data = goldenEvent('io.access.admission.decided.v1').data;
    const parsed = parseEvent(JSON.parse(JSON.stringify(decidedEnvelope(data))), { topic: TOPICS.admissions });
    expect(parsed).toMatchObject({ ok: true, event: { subject: data.accountId, time: data.decidedAt, source: '/access/admission', data } });
  });

  it('given completion data, then the envelope is what consumers of access.usage.v1 accept', () => {
    const data = goldenEvent('io.access.usage.request_completed.v1').data;
    const parsed = parseEvent(JSON.parse(JSON.stringify(completedEnvelope(data, '2026-11-25T10:01:00.000Z'))), { topic: TOPICS.usage });
    expect(parsed).toMatchObject({ ok: true, event: { subject: data.accountId, data } });
  });
});

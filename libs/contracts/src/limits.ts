/**
 * Named maxima of everything a contract lets a producer send. A consumer parses untrusted bytes, so every
 * string, record and list has a bound; a producer that needs more has to change the contract, visibly.
 */
export const contractLimits = {
  /** CloudEvents `id` of events from other producers (`cloudEventIdSchema`). */
  eventIdLengthMax: 128,
  /** `idSchema`: account, user, request, grant, adjustment ids, and names such as model, plan, endpoint. */
  idLengthMax: 128,
  /** Keys of meters, dimensions: `^[a-z][a-z0-9_]{0,63}$`. */
  meterKeyLengthMax: 64,
  metersKeysMax: 16,
  dimensionsKeysMax: 16,
  dimensionValueLengthMax: 128,
  /** Keys and size of the free-form numeric records `inputs` (limits.adjusted) and `signals` (reputation.changed). */
  numericRecordKeyLengthMax: 64,
  numericRecordKeysMax: 32,
  /** One decision is funded by at most a few allowance windows plus credits. */
  fundedByMax: 8,
  /** Limits reported on one decision (protective limits and allowance windows). */
  limitsAppliedMax: 16,
  limitNameLengthMax: 64,
  /** Grants one reservation or settlement draws on. */
  drawsMax: 256,
  /** Human-readable reasons (adjustments, voids, limit changes). */
  reasonLengthMax: 500,
  /** Plan names on balance_changed. */
  planLengthMax: 128,
  /** CloudEvents `source` (a URI-reference) and `subject`. */
  sourceLengthMax: 256,
  subjectLengthMax: 512,
  /** Dead letters: Kafka topic names are at most 249 characters. */
  topicLengthMax: 249,
  deadletterErrorLengthMax: 4_096,
  deadletterConsumerLengthMax: 256,
  deadletterKeyLengthMax: 1_024,
  /** The original message's headers kept on a dead letter (so a redrive republishes them): count and sizes. */
  deadletterHeadersMax: 64,
  deadletterHeaderNameLengthMax: 256,
  deadletterHeaderValueLengthMax: 8_192,
  /** base64 of 1 MiB (Kafka's default maximum message size); a dead-letter writer truncates larger values. */
  deadletterValueBase64LengthMax: 1_398_104,
} as const;

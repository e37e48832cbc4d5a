import type { AdmissionInput } from '@access/admission-application';
import { dimensionsSchema, idSchema, metersSchema, prioritySchema, usageRequestCompletedV1Schema, uuidv7Schema, type UsageRequestCompletedV1 } from '@access/contracts';
import { ProblemException, type FieldError } from '@access/platform-http';
import { z } from 'zod';

/**
 * The body of POST /v1/admissions (CONTRACTS.md). Strict: a misspelt field (`priorty`) is an error
 * naming it, never a silent default. Meters are finite and non-negative (JSON's 1e999 parses to
 * Infinity and is refused here); which meters and dimensions a model has is the price book's business
 * (the domain answers ADMISSION.INVALID_ESTIMATE naming the field).
 */
export const admissionRequestSchema = z.strictObject({
  requestId: idSchema,
  accountId: idSchema,
  userId: idSchema,
  model: idSchema,
  endpoint: idSchema,
  priority: prioritySchema.default('standard'),
  estimate: z.strictObject({
    meters: metersSchema,
    dimensions: dimensionsSchema.default({}),
  }),
});

/** The body of POST /v1/admissions/{admissionId}/complete: the data of `usage.request_completed`. */
export const completionRequestSchema = usageRequestCompletedV1Schema;

/** Body limit of the admission API: a request is a few hundred bytes; 16 KiB leaves room and bounds parsing. */
export const ADMISSION_BODY_LIMIT_BYTES = 16 * 1024;

/** Every issue as `{path, message}`; an unknown key is named by its own path. */
export function issuesOf(error: z.ZodError): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: base === '' ? key : `${base}.${key}`, message: 'unknown field' });
    } else out.push({ path: base === '' ? '(body)' : base, message: issue.message });
  }
  return out;
}

function invalid(code: string, what: string, errors: FieldError[]): ProblemException {
  return ProblemException.of(400, code, `The ${what} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
}

/** Parses the admission body or throws a 400 problem naming every bad field. Changes nothing. */
export function parseAdmissionRequest(body: unknown): AdmissionInput {
  const result = admissionRequestSchema.safeParse(body);
  if (!result.success) throw invalid('ADMISSION.INVALID_REQUEST', 'admission request', issuesOf(result.error));
  return result.data;
}

/** Parses a completion, checking it is for the admission named in the path. */
export function parseCompletionRequest(admissionId: string, body: unknown): UsageRequestCompletedV1 {
  if (!uuidv7Schema.safeParse(admissionId).success) {
    throw invalid('ADMISSION.INVALID_COMPLETION', 'path', [{ path: 'admissionId', message: 'must be a lowercase UUIDv7' }]);
  }
  const result = completionRequestSchema.safeParse(body);
  if (!result.success) throw invalid('ADMISSION.INVALID_COMPLETION', 'completion', issuesOf(result.error));
  if (result.data.admissionId !== admissionId) {
    throw invalid('ADMISSION.INVALID_COMPLETION', 'completion', [{ path: 'admissionId', message: 'must equal the admissionId in the path' }]);
  }
  return result.data;
}

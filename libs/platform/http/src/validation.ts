import type { z } from 'zod';
import { ProblemException, type FieldError } from './problem';

/** zod issues as `{path, message}` with JSON-pointer-like dotted paths (`estimate.meters.video_seconds`). */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(body)', message: issue.message }));
}

/** Parses a request part with its schema, or throws a 400 problem naming each bad field. Nothing is changed. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, code: string, what = 'request body'): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error);
  throw ProblemException.of(400, code, `The ${what} is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { errors });
}

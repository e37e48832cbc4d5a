/** Builds an OpenAPI 3.1 document from the same zod schemas the controllers validate with. */
import { z } from 'zod';

export interface Operation {
  method: 'get' | 'post' | 'put' | 'delete';
  path: string;
  summary: string;
  scope?: string;
  body?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
  parameters?: { name: string; in: 'path' | 'query'; required?: boolean; description?: string }[];
}

const problemSchema = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' },
    code: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

function jsonSchema(schema: z.ZodType): object {
  return z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
}

export function openApiDocument(title: string, version: string, operations: Operation[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const op of operations) {
    const responses: Record<string, object> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const isProblem = Number(status) >= 400;
      responses[status] = {
        description: r.description,
        content: isProblem
          ? { 'application/problem+json': { schema: r.schema ? jsonSchema(r.schema) : problemSchema } }
          : r.schema
            ? { 'application/json': { schema: jsonSchema(r.schema) } }
            : undefined,
      };
    }
    if (op.scope) {
      responses['401'] ??= { description: 'No token, or an unknown one', content: { 'application/problem+json': { schema: problemSchema } } };
      responses['403'] ??= { description: `The token lacks the scope ${op.scope}`, content: { 'application/problem+json': { schema: problemSchema } } };
    }
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      ...(op.scope ? { security: [{ bearer: [op.scope] }], description: `Requires scope \`${op.scope}\`.` } : {}),
      ...(op.parameters ? { parameters: op.parameters.map((p) => ({ ...p, required: p.in === 'path' ? true : (p.required ?? false), schema: { type: 'string' } })) } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(op.body) } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: { title, version },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

import type { Context } from 'koa';
import getRawBody from 'raw-body';
import type { z } from 'zod';
import { ServiceError, type FieldError } from '../errors';

/**
 * Reads a JSON request body of at most `limit` bytes. Anything else is a 4xx:
 * 413 when too large (without reading it all), 415 for another content type,
 * 400 for bytes that are not JSON.
 */
export async function readJson(ctx: Context, limit: number): Promise<unknown> {
  const declared = Number(ctx.get('content-length') || NaN);
  if (declared > limit) throw new ServiceError('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
  if (!ctx.is('application/json'))
    throw new ServiceError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  let raw: string;
  try {
    raw = await getRawBody(ctx.req, {
      limit,
      encoding: 'utf8',
      length: Number.isFinite(declared) ? declared : undefined,
    });
  } catch (e) {
    const type = (e as { type?: string }).type;
    if (type === 'entity.too.large')
      throw new ServiceError('PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`);
    throw new ServiceError('MALFORMED_JSON', 'the body could not be read');
  }
  try {
    return JSON.parse(raw);
  } catch {
    throw new ServiceError('MALFORMED_JSON', 'the body is not valid JSON');
  }
}

/** zod issues as API field errors. */
export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues
    .slice(0, 20)
    .map((i) => ({ path: i.path.join('.') || '(body)', code: i.code, message: i.message }));
}

/** Validates `value` with `schema` or throws VALIDATION_FAILED naming each field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new ServiceError('VALIDATION_FAILED', 'the request does not match the schema', fieldErrors(r.error));
  return r.data;
}

/** Reads and validates a JSON body in one step. */
export async function jsonBody<S extends z.ZodType>(ctx: Context, schema: S, limit: number): Promise<z.infer<S>> {
  return parseWith(schema, await readJson(ctx, limit));
}

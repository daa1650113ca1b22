import type { FastifySchemaValidationError } from 'fastify';
import type { OisError } from '../../errors.js';

/**
 * The viewer's schemas are written for the daemon app's validator options (`APP_AJV_OPTIONS` in
 * server/app.ts: no type coercion, nothing removed): query and path parameters are strings, as they
 * arrive, and a body field has the JSON type the page sends. They hold no defaults and no
 * `additionalProperties: false`, whose meaning would depend on those options.
 */

/** A query parameter or path segment: a string (a repeated `?a=1&a=2` is an array, and refused). */
const TEXT = { type: 'string' } as const;

/** `{type: 'object', properties}` of string parameters, the given ones required. */
export function textParams<const K extends string>(names: readonly K[], required: readonly K[] = []) {
  return {
    type: 'object',
    ...(required.length > 0 ? { required } : {}),
    properties: Object.fromEntries(names.map((n) => [n, TEXT])) as Record<K, typeof TEXT>,
  } as const;
}

/**
 * A route's schema errors answered as the route's own refusal (its code and words, which the page and
 * scripts know) rather than Ajv's: `refusal` gets the field the first error is about (`undefined` for the
 * body as a whole).
 */
export function answerSchemaErrorsWith(refusal: (field: string | undefined) => OisError) {
  return (errors: FastifySchemaValidationError[]): Error => {
    const first = errors[0];
    // `/to/0` is about `to`; a missing property is reported on its parent, with its name in the params.
    const inPath = first?.instancePath.split('/')[1];
    const missing = first?.params.missingProperty;
    return refusal(inPath || (typeof missing === 'string' ? missing : undefined));
  };
}

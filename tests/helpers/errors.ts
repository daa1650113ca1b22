import { isOisError, type OisError } from '../../src/errors.js';

/** The OisError a promise rejects with; fails the test when it resolves or rejects with anything else. */
export async function caught(p: Promise<unknown>): Promise<OisError> {
  try {
    await p;
  } catch (err) {
    if (isOisError(err)) return err;
    throw err;
  }
  throw new Error('expected an OisError');
}

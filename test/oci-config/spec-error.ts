import { expect } from 'vitest';
import { SpecError } from '../../src/oci-config/errors.js';

/** The one-line message of the SpecError `promise` rejects with (fails the test if it resolves or throws anything else). */
export async function specErrorOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SpecError);
  const message = (err as SpecError).message;
  expect(message).not.toMatch(/[\n\r]/);
  return message;
}

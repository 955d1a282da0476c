/** A tracefs operation failed: one line naming the file and why. */
export class TracefsError extends Error {
  override name = 'TracefsError';
}

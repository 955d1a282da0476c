/**
 * The one error type of src/spec: a bundle's config.json could not be read, parsed, validated,
 * modified or written. The message is always a single line, because the wrapper's callers
 * (containerd, dockerd, podman) surface runtime stderr line by line.
 */
export class SpecError extends Error {
  override name = 'SpecError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(toOneLine(message), options);
  }
}

/** Escape control characters (newlines in a JSON key or in a quoted file fragment included). */
export function toOneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

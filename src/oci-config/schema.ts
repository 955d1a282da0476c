import { isLosslessNumber, type LosslessNumber } from 'lossless-json';
import { z } from 'zod';
import { SpecError } from './errors.js';

/*
 * Schemas for the parts of an OCI runtime-spec config.json that we read or touch. Everything else
 * passes through unvalidated: the real runtime judges it, and rejecting a config it would accept
 * breaks containers. `null` is accepted wherever Go's encoding/json (runc) treats it as absent.
 *
 * Only use these schemas to *check* a tree (see validateSpec): zod rebuilds objects with known
 * keys first, which would reorder the user's keys on rewrite.
 */

/** A JSON number as parsed by lossless-json (LosslessNumber) or created by us (number). */
export type JsonNumber = number | LosslessNumber;
export const jsonNumber = z.custom<JsonNumber>(
  (value) => (typeof value === 'number' && Number.isFinite(value)) || isLosslessNumber(value),
  (value: unknown) => ({ message: `expected number, got ${jsonTypeOf(value)}` }),
);

// crun (libocispec) stores hook timeouts in a C int; runc rejects fractions and exponents.
const MAX_HOOK_TIMEOUT = 2 ** 31 - 1;

/** The runtime-spec's "int greater than zero", whether written by a user or by us. */
const positiveInt = jsonNumber.refine(
  (value) => {
    if (typeof value === 'number') return Number.isInteger(value) && value > 0 && value <= MAX_HOOK_TIMEOUT;
    return /^[1-9][0-9]*$/.test(value.value) && Number(value.value) <= MAX_HOOK_TIMEOUT;
  },
  { message: `must be an integer from 1 to ${MAX_HOOK_TIMEOUT}` },
);

const stringArray = z.array(z.string());

export const OciHookSchema = z
  .object({
    path: z.string().startsWith('/', 'must be an absolute path'),
    args: stringArray.nullable().optional(),
    env: stringArray.nullable().optional(),
    timeout: positiveInt.nullable().optional(),
  })
  .passthrough();
export type OciHook = z.infer<typeof OciHookSchema>;

/** The runtime-spec's hook stages, in the order a container goes through them. */
export const HOOK_STAGES = [
  'prestart',
  'createRuntime',
  'createContainer',
  'startContainer',
  'poststart',
  'poststop',
] as const;
export type HookStage = (typeof HOOK_STAGES)[number];

const hookList = z.array(OciHookSchema).nullable().optional();

export const OciHooksSchema = z
  .object({
    prestart: hookList,
    createRuntime: hookList,
    createContainer: hookList,
    startContainer: hookList,
    poststart: hookList,
    poststop: hookList,
  })
  .passthrough();
export type OciHooks = z.infer<typeof OciHooksSchema>;

export const OciSpecSchema = z
  .object({
    ociVersion: z.string(),
    root: z.object({ path: z.string(), readonly: z.boolean().nullable().optional() }).passthrough().nullable().optional(),
    process: z
      .object({
        terminal: z.boolean().nullable().optional(),
        args: stringArray.nullable().optional(),
        env: stringArray.nullable().optional(),
        cwd: z.string().optional(),
      })
      .passthrough()
      .nullable()
      .optional(),
    hostname: z.string().nullable().optional(),
    hooks: OciHooksSchema.nullable().optional(),
    annotations: z.record(z.string()).nullable().optional(),
    linux: z.object({}).passthrough().nullable().optional(),
  })
  .passthrough();
export type OciSpec = z.infer<typeof OciSpecSchema>;

/**
 * Check a parsed config.json tree and return that same tree, typed. Key order and every value we
 * do not validate (LosslessNumbers included) are kept because the tree itself is returned, not
 * zod's copy of it.
 */
export function validateSpec(tree: unknown, source: string): OciSpec {
  const result = OciSpecSchema.safeParse(tree, { errorMap: jsonTypeErrorMap });
  if (!result.success) {
    throw new SpecError(`${source}: ${describeIssue(result.error)}`);
  }
  return tree as OciSpec;
}

/** Validate hooks we are about to add, so a caller's mistake is caught before any bundle is read. */
export function validateHook(hook: unknown, source: string): OciHook {
  const result = OciHookSchema.safeParse(hook, { errorMap: jsonTypeErrorMap });
  if (!result.success) {
    throw new SpecError(`${source}: ${describeIssue(result.error)}`);
  }
  return hook as OciHook;
}

/** Type errors in JSON terms: a LosslessNumber is a number to the user, not an object. */
const jsonTypeErrorMap: z.ZodErrorMap = (issue, ctx) => {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    if (ctx.data === undefined) return { message: 'required' };
    return { message: `expected ${issue.expected}, got ${jsonTypeOf(ctx.data)}` };
  }
  return { message: ctx.defaultError };
};

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (isLosslessNumber(value)) return 'number';
  return typeof value;
}

/** `invalid hooks.createRuntime[0].path: must be an absolute path` — the first issue only. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  return `invalid ${formatFieldPath(issue.path)}: ${issue.message}`;
}

/** JavaScript-style path: `process.args[2]`, `annotations["io.kubernetes.cri.sandbox-id"]`. */
export function formatFieldPath(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return '(root)';
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

import { SpecError } from './errors.js';
import { HOOK_STAGES, validateHook, type HookStage, type OciHook, type OciSpec } from './schema.js';

/**
 * One self-contained edit of a spec. `apply` is pure: it returns a new spec (or the very same
 * object when there is nothing to do) and never mutates its input, so edits can be composed,
 * retried and tested on frozen fixtures.
 */
export type SpecModifier = {
  readonly name: string;
  apply(spec: OciSpec): OciSpec;
};

/**
 * Append `hooks` after the hooks already registered for `stage` (the user's hooks keep running
 * first, in their order). Idempotent: when the stage already holds a hook for which `isSameHook`
 * is true, the spec is returned unchanged, so a second `create` on the same bundle adds nothing.
 */
export function appendHooksModifier(
  stage: HookStage,
  hooks: readonly OciHook[],
  isSameHook: (hook: OciHook) => boolean,
): SpecModifier {
  const name = `append-hooks:${stage}`;
  if (!HOOK_STAGES.includes(stage)) {
    throw new SpecError(`${name}: unknown hook stage "${String(stage)}"`);
  }
  if (hooks.length === 0) {
    throw new SpecError(`${name}: no hooks to append`);
  }
  const checked = hooks.map((hook, index) => validateHook(hook, `${name}: hook ${index}`));
  // Without this the modifier could never recognize its own work and would append on every run.
  if (!checked.some((hook) => isSameHook(hook))) {
    throw new SpecError(`${name}: isSameHook matches none of the hooks to append, so appending would not be idempotent`);
  }
  // Own copies, so a caller mutating its array later cannot change what we append.
  const toAppend = checked.map((hook) => copyHook(hook));

  return {
    name,
    apply(spec: OciSpec): OciSpec {
      const existing = spec.hooks?.[stage] ?? [];
      if (existing.some((hook) => isSameHook(hook))) return spec;
      return {
        ...spec,
        hooks: {
          ...(spec.hooks ?? {}),
          [stage]: [...existing, ...toAppend.map((hook) => copyHook(hook))],
        },
      };
    },
  };
}

/**
 * Put `hooks` in `stage`: where the stage already holds hooks for which `isSameHook` is true,
 * the first of them is replaced by ours in place (the others are dropped) when it differs;
 * otherwise ours are appended after the user's. Our hooks carry settings (the state directory,
 * the node binary), so a bundle prepared before with other settings gets today's, and a second
 * `create` with the same settings changes nothing (the very same spec is returned).
 */
export function setHooksModifier(stage: HookStage, hooks: readonly OciHook[], isSameHook: (hook: OciHook) => boolean): SpecModifier {
  const append = appendHooksModifier(stage, hooks, isSameHook);
  const name = `set-hooks:${stage}`;
  const ours = hooks.map((hook) => copyHook(validateHook(hook, `${name}: hook`)));
  return {
    name,
    apply(spec: OciSpec): OciSpec {
      const existing = spec.hooks?.[stage] ?? [];
      const first = existing.findIndex((hook) => isSameHook(hook));
      if (first < 0) return append.apply(spec);
      const present = existing.filter((hook) => isSameHook(hook));
      if (present.length === ours.length && present.every((hook, i) => sameHook(hook, ours[i] as OciHook))) return spec;
      const kept = existing.filter((hook, i) => i === first || !isSameHook(hook));
      const at = kept.indexOf(existing[first] as OciHook);
      return {
        ...spec,
        hooks: {
          ...(spec.hooks ?? {}),
          [stage]: [...kept.slice(0, at), ...ours.map((hook) => copyHook(hook)), ...kept.slice(at + 1)],
        },
      };
    },
  };
}

/** Same fields with the same values (a timeout read from a file is a LosslessNumber: compared as text). */
function sameHook(a: OciHook, b: OciHook): boolean {
  const text = (hook: OciHook) => JSON.stringify(Object.entries(hook).map(([key, value]) => [key, key === 'timeout' && value != null ? String(value) : value]).sort(([x], [y]) => String(x).localeCompare(String(y))));
  return text(a) === text(b);
}

/** Apply modifiers left to right as one. */
export function composeModifiers(modifiers: readonly SpecModifier[], name?: string): SpecModifier {
  const list = [...modifiers];
  return {
    name: name ?? (list.map((modifier) => modifier.name).join('+') || 'noop'),
    apply(spec: OciSpec): OciSpec {
      return list.reduce((current, modifier) => modifier.apply(current), spec);
    },
  };
}

// Hooks we append are our own plain data (strings and numbers); copying arrays keeps results from
// sharing mutable state with each other or with the caller.
function copyHook(hook: OciHook): OciHook {
  return {
    ...hook,
    ...(Array.isArray(hook.args) ? { args: [...hook.args] } : {}),
    ...(Array.isArray(hook.env) ? { env: [...hook.env] } : {}),
  };
}

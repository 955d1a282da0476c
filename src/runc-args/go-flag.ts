// The command-line rules runc lives by: Go's flag package as driven by urfave/cli v1.22.1 (the
// version runc 1.1 vendors). Reproduced rule for rule, because engines rely on runc's exact
// reading of argv and we must read it the same way to find the bundle and the container id.

import { goQuote } from './go-quote.js';

export type FlagKind = 'string' | 'bool' | 'int' | 'stringSlice';

/** One urfave/cli flag: all its names (first is canonical, e.g. ['bundle', 'b']) and its kind. */
export interface FlagDef {
  readonly names: readonly string[];
  readonly kind: FlagKind;
}

export interface GoFlagParse {
  /** Values by canonical name, in command-line order (bools as "true"/"false"). */
  readonly values: ReadonlyMap<string, readonly string[]>;
  /** Arguments left once flag parsing stopped (a "--" that stopped it is consumed); none after a parse error. */
  readonly positionals: readonly string[];
  /** The error Go reports, word for word; parsing stopped there. */
  readonly error?: string;
}

const GO_BOOL_VALUES: Readonly<Record<string, boolean>> = {
  '1': true, t: true, T: true, TRUE: true, true: true, True: true,
  '0': false, f: false, F: false, FALSE: false, false: false, False: false,
};

/** strconv.ParseBool; undefined when Go would reject the text. */
export function parseGoBool(text: string): boolean | undefined {
  return Object.hasOwn(GO_BOOL_VALUES, text) ? GO_BOOL_VALUES[text] : undefined;
}

const INT64_MAX = (1n << 63n) - 1n;
const GO_INT_SYNTAX =
  /^[+-]?(?:0[xX](?:_?[0-9a-fA-F])+|0[bB](?:_?[01])+|0[oO](?:_?[0-7])+|0(?:_?[0-7])*|[1-9](?:_?[0-9])*)$/;

/** strconv.ParseInt(text, 0, 64): Go literal syntax with prefixes and digit separators. */
export function parseGoInt64(text: string): bigint | undefined {
  if (!GO_INT_SYNTAX.test(text)) return undefined;
  const negative = text.startsWith('-');
  let body = text.replace(/^[+-]/, '').replaceAll('_', '');
  // A bare leading 0 means octal in Go; BigInt wants the 0o spelling.
  if (/^0[0-7]/.test(body)) body = `0o${body.slice(1)}`;
  const magnitude = BigInt(body);
  if (magnitude > INT64_MAX + (negative ? 1n : 0n)) return undefined;
  return negative ? -magnitude : magnitude;
}

function canonicalNames(defs: readonly FlagDef[]): Map<string, FlagDef> {
  const byName = new Map<string, FlagDef>();
  for (const def of defs) for (const name of def.names) byName.set(name, def);
  return byName;
}

/**
 * flag.FlagSet.Parse: flags until the first non-flag argument or "--"; `-x` and `--x` alike;
 * `=value` or the next argument (whatever it looks like) for non-booleans; booleans never take
 * the next argument. Then urfave/cli's normalizeFlags, which rejects two names of one flag.
 */
export function parseGoFlags(args: readonly string[], defs: readonly FlagDef[]): GoFlagParse {
  const byName = canonicalNames(defs);
  const values = new Map<string, string[]>();
  const visited = new Set<string>();
  let i = 0;
  const fail = (error: string): GoFlagParse => ({ values, positionals: [], error });

  while (i < args.length) {
    const arg = args[i] as string;
    if (arg.length < 2 || !arg.startsWith('-')) break;
    if (arg === '--') {
      i++;
      break;
    }
    let name = arg.slice(arg.startsWith('--') ? 2 : 1);
    if (name === '' || name.startsWith('-') || name.startsWith('=')) return fail(`bad flag syntax: ${arg}`);
    i++;
    let value: string | undefined;
    const eq = name.indexOf('=', 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const def = byName.get(name);
    if (!def) return fail(`flag provided but not defined: -${name}`);

    if (def.kind === 'bool') {
      const parsed = parseGoBool(value ?? 'true');
      if (parsed === undefined) return fail(`invalid boolean value ${goQuote(value ?? '')} for -${name}: parse error`);
      value = String(parsed);
    } else {
      if (value === undefined) {
        if (i >= args.length) return fail(`flag needs an argument: -${name}`);
        value = args[i] as string;
        i++;
      }
      if (def.kind === 'int' && parseGoInt64(value) === undefined) {
        const reason = GO_INT_SYNTAX.test(value) ? 'value out of range' : 'parse error';
        return fail(`invalid value ${goQuote(value)} for flag -${name}: ${reason}`);
      }
    }
    const canonical = def.names[0] as string;
    // Each name is its own Go flag: repeating one replaces its value, except for slices.
    values.set(canonical, def.kind === 'stringSlice' ? [...(values.get(canonical) ?? []), value] : [value]);
    visited.add(name);
  }
  const error = twoFormsError(defs, visited);
  return { values, positionals: args.slice(i), ...(error !== undefined ? { error } : {}) };
}

/** urfave/cli's normalizeFlags, run after a successful parse: one flag given under two names. */
function twoFormsError(defs: readonly FlagDef[], visited: ReadonlySet<string>): string | undefined {
  for (const def of defs) {
    const used = def.names.filter((name) => visited.has(name));
    if (used.length > 1) return `Cannot use two forms of the same flag: ${used[1]} ${used[0]}`;
  }
  return undefined;
}

/**
 * urfave/cli v1.22.1 reorderArgs, run on a subcommand's arguments before parsing: every argument
 * starting with "-" moves to the front, and so does the argument after it when that one does not
 * start with "-" and the flag had no "=" (even after a boolean: `run id -d x` makes `x` the id).
 * Everything from "--" on stays last.
 */
export function reorderArgsUrfaveV1(args: readonly string[]): string[] {
  const flags: string[] = [];
  const nonFlags: string[] = [];
  let mayBeValue = false;
  for (const [i, arg] of args.entries()) {
    if (arg === '--') {
      nonFlags.push(...args.slice(i));
      break;
    }
    if (mayBeValue && !arg.startsWith('-')) {
      mayBeValue = false;
      flags.push(arg);
      continue;
    }
    mayBeValue = false;
    if (arg !== '-' && arg.startsWith('-')) {
      flags.push(arg);
      mayBeValue = !arg.includes('=');
    } else {
      nonFlags.push(arg);
    }
  }
  return [...flags, ...nonFlags];
}

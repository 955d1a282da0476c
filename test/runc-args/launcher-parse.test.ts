import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMAND_FLAGS, GLOBAL_FLAGS, parseRuncArgv, type FlagDef } from '../../src/runc-args/index.js';
import { ARGV_CASES } from './cases.js';
import { LAUNCHER, explain } from './launcher.js';

describe('the launcher reads argv as the TypeScript parser does', () => {
  for (const c of ARGV_CASES) {
    it(`explains ${JSON.stringify(c.argv)}`, async () => {
      const inv = parseRuncArgv(c.argv);
      const got = await explain(c.argv);
      const fromTs = {
        command: inv.command ?? '',
        creates: inv.createsContainer ? '1' : '0',
        log: inv.globals.log ?? '',
        logformat: inv.globals.logFormat ?? '',
      };
      expect({ command: got.command, creates: got.creates, log: got.log, logformat: got.logformat }).toEqual(fromTs);
      expect(fromTs).toEqual({
        command: c.command,
        creates: c.createsContainer ? '1' : '0',
        log: c.log ?? '',
        logformat: c.logFormat ?? '',
      });
    });
  }

  // Go literals decide whether a later --help counts; both sides must judge them alike.
  const literals = ['0x7fffffffffffffff', '0x8000000000000000', '-0x8000000000000000', '-0x8000000000000001',
    '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '0777777777777777777777',
    '01000000000000000000000', '-01000000000000000000000', `0b${'1'.repeat(63)}`, `0b1${'0'.repeat(63)}`,
    `-0b1${'0'.repeat(63)}`, '0_0_7', '00000000000000000000000000000007', '0x_a_B', '0x_', '1_2_3', '+0', '-0', '8', '08', 'x'];
  it.each(literals)('judges --preserve-fds=%s alike', async (literal) => {
    const argv = ['create', `--preserve-fds=${literal}`, '--help', 'id'];
    expect((await explain(argv)).creates).toBe(parseRuncArgv(argv).createsContainer ? '1' : '0');
  });

  it.each(['-\xff', '-é', '--bundle\ncreate', '-b c', '-[', '-*'])('treats the odd flag %j alike', async (flag) => {
    for (const argv of [[flag, 'create', 'id'], ['create', flag, 'x', 'id'], ['run', 'id', flag, '--help']]) {
      const inv = parseRuncArgv(argv);
      const got = await explain(argv);
      expect([got.command, got.creates]).toEqual([inv.command ?? '', inv.createsContainer ? '1' : '0']);
    }
  });
});

describe("the launcher's flag tables", () => {
  const script = readFileSync(LAUNCHER, 'utf8');
  const table = (name: string): string[] => {
    const match = script.match(new RegExp(`^${name}='([^']*)'$`, 'm'));
    if (!match) throw new Error(`${name} not found in the launcher`);
    return (match[1] as string).trim().split(/ +/).sort();
  };
  const names = (defs: readonly FlagDef[], kinds: string[]) =>
    defs.filter((d) => kinds.includes(d.kind)).flatMap((d) => d.names).sort();
  const scopes = { global: GLOBAL_FLAGS, ...COMMAND_FLAGS };

  for (const [scope, defs] of Object.entries(scopes)) {
    it(`match flag-tables.ts for ${scope}`, () => {
      expect(table(`_oft_${scope}_value`)).toEqual(names(defs, ['string', 'int', 'stringSlice']));
      expect(table(`_oft_${scope}_bool`)).toEqual(names(defs, ['bool']));
    });
  }

  it('know the same int flags and the same two-name flags', () => {
    const all = Object.values(scopes).flat();
    expect(table('_oft_int')).toEqual([...new Set(names(all, ['int']))]);
    const pairs = [...new Set(all.filter((d) => d.names.length > 1).map((d) => d.names.join(':')))].sort();
    expect(table('_oft_pairs')).toEqual(pairs);
  });
});

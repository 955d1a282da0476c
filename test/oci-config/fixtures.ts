import { readdirSync } from 'node:fs';
import tmp from 'tmp';
import { afterEach } from 'vitest';

/**
 * A config.json as a runtime would receive it, indented with tabs like `runc spec` writes. It holds
 * what a JSON.parse round trip loses: integers above 2^53, number spellings (1.50, 1e3, -0), and
 * unknown fields; keys are in no particular order.
 */
export const BIG_NUMBER_CONFIG = `{
	"ociVersion": "1.0.2-dev",
	"x-vendor": {
		"ratio": 1.50,
		"scaled": 1e3,
		"negativeZero": -0,
		"nested": [
			{},
			[],
			null,
			true
		]
	},
	"process": {
		"terminal": false,
		"user": {
			"uid": 0,
			"gid": 0
		},
		"args": [
			"sh"
		],
		"cwd": "/"
	},
	"root": {
		"path": "rootfs",
		"readonly": true
	},
	"hooks": {
		"createRuntime": [
			{
				"path": "/usr/bin/user-hook",
				"args": [
					"user-hook",
					"--flag"
				],
				"timeout": 5
			}
		]
	},
	"annotations": {
		"io.kubernetes.cri.container-name": "app",
		"été": "café"
	},
	"linux": {
		"resources": {
			"memory": {
				"limit": 9223372036854775807,
				"swap": -1
			},
			"cpu": {
				"quota": 9007199254740993,
				"period": 100000
			}
		},
		"seccomp": {
			"defaultAction": "SCMP_ACT_ERRNO",
			"syscalls": [
				{
					"names": [
						"personality"
					],
					"action": "SCMP_ACT_ALLOW",
					"args": [
						{
							"index": 0,
							"value": 18446744073709551615,
							"valueTwo": 18446744073709551614,
							"op": "SCMP_CMP_MASKED_EQ"
						}
					]
				}
			]
		},
		"namespaces": [
			{
				"type": "pid"
			}
		]
	},
	"zz-unknown-last": {
		"kept": "yes"
	}
}
`;

/** Temp directories removed after each test, contents included. */
export function useTempDirs(): () => string {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    while (cleanups.length > 0) cleanups.pop()?.();
  });
  return () => {
    const dir = tmp.dirSync({ unsafeCleanup: true, prefix: 'oci-ftrace-spec-' });
    cleanups.push(() => dir.removeCallback());
    return dir.name;
  };
}

/** Entries of a directory, sorted: used to prove no temp file was left behind. */
export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Freeze a tree recursively, so any mutation by code under test throws (ESM is strict mode). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

// Go's string escaping, reproduced so that what we print or log reads exactly like runc's own
// output: strconv.Quote (used by fmt's %q, by the flag package's errors and by logrus's text
// format) and encoding/json string encoding with HTML escaping on (logrus's JSON format).

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space only. */
function isGoPrintable(char: string): boolean {
  return char === ' ' || PRINTABLE.test(char);
}

const QUOTE_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
};

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, '0');
}

/**
 * strconv.Quote. A lone UTF-16 surrogate (which Node writes out as U+FFFD) is quoted as the
 * printable U+FFFD it becomes on disk.
 */
export function goQuote(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === '\\') {
      out += `\\${char}`;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += '\ufffd';
    } else if (isGoPrintable(char)) {
      out += char;
    } else if (QUOTE_SHORT_ESCAPES[char] !== undefined) {
      out += QUOTE_SHORT_ESCAPES[char];
    } else if (code < 0x20 || code === 0x7f) {
      out += `\\x${hex(code, 2)}`;
    } else if (code < 0x10000) {
      out += `\\u${hex(code, 4)}`;
    } else {
      out += `\\U${hex(code, 8)}`;
    }
  }
  return `${out}"`;
}

const JSON_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * encoding/json as built into runc 1.1 (Go 1.19, SetEscapeHTML(true)): <, > and & become \u00XX,
 * other control characters \u00XX (Go < 1.22 has no \b or \f short forms), U+2028/U+2029 are
 * escaped, everything else is written as is.
 */
export function goJsonString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    const short = JSON_SHORT_ESCAPES[char];
    if (short !== undefined) {
      out += short;
    } else if (code < 0x20 || char === '<' || char === '>' || char === '&') {
      out += `\\u${hex(code, 4)}`;
    } else if (code === 0x2028 || code === 0x2029) {
      out += `\\u${hex(code, 4)}`;
    } else if (code >= 0xd800 && code <= 0xdfff) {
      out += '\ufffd';
    } else {
      out += char;
    }
  }
  return `${out}"`;
}

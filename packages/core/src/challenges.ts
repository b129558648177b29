/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): what core's request loop reads from a
 * 401 or 403 to decide between "refresh and replay", "no replay" and "not ours".
 *
 * Core has no dependencies, so the parser lives here; its output is checked against
 * oauth4webapi's own parser on the same inputs (see `challenges.test.ts`).
 *
 * @module
 */

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  /** The auth scheme, lower-cased (`bearer`, `dpop`, `basic`). */
  readonly scheme: string;
  /** Its auth-params, names lower-cased, quoted values unescaped. */
  readonly parameters: Readonly<Record<string, string>>;
  /** Its token68, when it has one instead of parameters. */
  readonly token68?: string;
}

const TCHAR = /[A-Za-z0-9!#$%&'*+\-.^_`|~]/;
const TOKEN68_CHAR = /[A-Za-z0-9\-._~+/]/;

/** A small cursor over the header value. */
class Reader {
  index = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.index >= this.text.length;
  }

  peek(): string {
    return this.text[this.index] ?? '';
  }

  /** Skips spaces, tabs and (with `commas`) list separators. */
  skip(commas: boolean): void {
    while (!this.done) {
      const c = this.peek();
      if (c === ' ' || c === '\t' || (commas && c === ',')) this.index += 1;
      else break;
    }
  }

  read(pattern: RegExp): string {
    const start = this.index;
    while (!this.done && pattern.test(this.peek())) this.index += 1;
    return this.text.slice(start, this.index);
  }

  /** A quoted-string, unescaped; undefined when the closing quote is missing. */
  quoted(): string | undefined {
    let out = '';
    this.index += 1; // the opening quote
    while (!this.done) {
      const c = this.peek();
      this.index += 1;
      if (c === '"') return out;
      if (c === '\\') {
        if (this.done) return undefined;
        out += this.peek();
        this.index += 1;
      } else out += c;
    }
    return undefined;
  }
}

/**
 * Whether the text at the cursor is `name = value` (an auth-param) rather than a new
 * challenge's scheme or a token68. Does not move the cursor.
 */
function atParameter(reader: Reader): boolean {
  const start = reader.index;
  const name = reader.read(TCHAR);
  reader.skip(false);
  let isParameter = false;
  if (name !== '' && reader.peek() === '=') {
    reader.index += 1;
    reader.skip(false);
    const c = reader.peek();
    isParameter = c === '"' || (c !== '' && TCHAR.test(c)); // `abc=` and `abc==` are token68
  }
  reader.index = start;
  return isParameter;
}

/**
 * Parses a `WWW-Authenticate` value into its challenges. Several challenges, quoted
 * strings with commas and escapes, token68 and empty list elements are understood.
 * A value that does not follow the grammar gives `undefined` (read as "no challenge").
 *
 * @example
 * ```ts
 * parseChallenges('Bearer realm="fhir", error="insufficient_scope", scope="patient/*.rs", DPoP algs="ES256"');
 * // [{ scheme: 'bearer', parameters: { realm: 'fhir', error: 'insufficient_scope', scope: 'patient/*.rs' } },
 * //  { scheme: 'dpop', parameters: { algs: 'ES256' } }]
 * ```
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1
 */
export function parseChallenges(value: string | null | undefined): Challenge[] | undefined {
  if (!value) return undefined;
  const reader = new Reader(value);
  const challenges: Challenge[] = [];
  reader.skip(true);
  while (!reader.done) {
    const scheme = reader.read(TCHAR);
    if (scheme === '') return undefined;
    const parameters: Record<string, string> = {};
    let token68: string | undefined;
    const next = reader.peek();
    if (next !== '' && next !== ' ' && next !== '\t' && next !== ',') return undefined;
    reader.skip(false);
    // After the scheme: a token68, or #auth-param; a list element that is neither
    // `name=value` nor a token68 starts the next challenge.
    if (!reader.done && reader.peek() !== ',' && !atParameter(reader)) {
      const start = reader.index;
      const body = reader.read(TOKEN68_CHAR);
      const padding = reader.read(/=/);
      reader.skip(false);
      if (body === '' || padding.length > 2 || (!reader.done && reader.peek() !== ',')) {
        reader.index = start;
        return undefined;
      }
      token68 = body + padding;
    } else {
      for (;;) {
        const mark = reader.index;
        reader.skip(true);
        if (reader.done || !atParameter(reader)) {
          // Not a parameter: the next challenge begins here (or the value ended).
          if (!reader.done && mark === reader.index && reader.peek() !== ',') return undefined;
          break;
        }
        const name = reader.read(TCHAR).toLowerCase();
        reader.skip(false);
        reader.index += 1; // '='
        reader.skip(false);
        let paramValue: string | undefined;
        if (reader.peek() === '"') paramValue = reader.quoted();
        else {
          paramValue = reader.read(TCHAR);
          if (paramValue === '') paramValue = undefined;
        }
        if (paramValue === undefined) return undefined;
        parameters[name] = paramValue;
        reader.skip(false);
        if (!reader.done && reader.peek() !== ',') return undefined;
      }
    }
    const lower = scheme.toLowerCase();
    challenges.push(
      token68 === undefined ? { scheme: lower, parameters } : { scheme: lower, parameters, token68 },
    );
    reader.skip(true);
  }
  return challenges.length > 0 ? challenges : undefined;
}

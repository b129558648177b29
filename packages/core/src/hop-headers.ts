/**
 * The headers of one hop, as core hands them to the policies and to the transport.
 *
 * @module
 */

/** A header name: an RFC 9110 token. */
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What no header value may hold: CR, LF, NUL (RFC 9110 §5.5), or a code unit over 0xFF. */
const FORBIDDEN_IN_VALUE = /[\0\r\n\u0100-\uffff]/;
/** HTTP whitespace around a value, which `Headers` strips. */
const SURROUNDING_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

function checkedName(name: string): string {
  const text = String(name);
  if (!NAME.test(text)) throw new TypeError(`"${text}" is not a valid header name`);
  return text.toLowerCase();
}

function checkedValue(name: string, value: string): string {
  let text = String(value);
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(text.length - 1);
  if (first <= 0x20 || last <= 0x20) text = text.replace(SURROUNDING_WHITESPACE, '');
  // The value is not shown: it may be a credential.
  if (FORBIDDEN_IN_VALUE.test(text)) throw new TypeError(`the value of header "${name}" is not valid`);
  return text;
}

/**
 * A `Headers` with `Headers`' semantics (names case-insensitive and shown in lower case,
 * `append` joins with `, `, CR, LF and NUL refused, surrounding whitespace stripped),
 * kept in a plain map. Why not `Headers` itself: its `set` converts and checks a value
 * character by character (~0.6 µs for a bearer token on a slow machine), and the client
 * checks the same value again when it sends it; core copies the caller's headers for
 * every hop and sets the credential on every request, so both are paid per request.
 * Here a copy from `Headers` takes the values as they are (`Headers` checked them), a
 * value set is checked once for what must never reach the wire, and the credential
 * core built from a checked token is set as it is. Iterates in the order names were
 * first set. Its values are in a private field: `JSON.stringify` and `util.inspect`
 * show none of them.
 */
export class HopHeaders implements Headers {
  readonly #values: Map<string, string>;

  /** A copy of `from`'s headers. */
  constructor(from: Headers) {
    if (from instanceof HopHeaders) {
      this.#values = new Map(from.#values);
      return;
    }
    const values = new Map<string, string>();
    this.#values = values;
    if (typeof Headers !== 'undefined' && from instanceof Headers) {
      from.forEach((value, name) => values.set(name, value));
    } else {
      // A Headers-like object from a custom adapter: checked as it is copied.
      from.forEach((value, name) => this.append(name, value));
    }
  }

  append(name: string, value: string): void {
    const key = checkedName(name);
    const text = checkedValue(key, value);
    const existing = this.#values.get(key);
    this.#values.set(key, existing === undefined ? text : `${existing}, ${text}`);
  }

  delete(name: string): void {
    this.#values.delete(checkedName(name));
  }

  get(name: string): string | null {
    return this.#values.get(checkedName(name)) ?? null;
  }

  getSetCookie(): string[] {
    const value = this.#values.get('set-cookie');
    return value === undefined ? [] : [value];
  }

  has(name: string): boolean {
    return this.#values.has(checkedName(name));
  }

  set(name: string, value: string): void {
    const key = checkedName(name);
    this.#values.set(key, checkedValue(key, value));
  }

  /**
   * Sets a value core built from parts it checked already (a token's characters are
   * checked when the token is made): no second check on the hot path.
   *
   * @internal
   */
  setChecked(name: string, value: string): void {
    this.#values.set(name, value);
  }

  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    for (const [name, value] of this.#values) callback.call(thisArg, value, name, this);
  }

  entries(): HeadersIterator<[string, string]> {
    return this.#values.entries() as HeadersIterator<[string, string]>;
  }

  keys(): HeadersIterator<string> {
    return this.#values.keys() as HeadersIterator<string>;
  }

  values(): HeadersIterator<string> {
    return this.#values.values() as HeadersIterator<string>;
  }

  [Symbol.iterator](): HeadersIterator<[string, string]> {
    return this.entries();
  }

  get [Symbol.toStringTag](): string {
    return 'Headers';
  }
}

/** Inputs the suite feeds to managers and stores, with why each is bad. */

function cyclic(): unknown {
  const value: Record<string, unknown> = { a: 1 };
  value.self = { back: value };
  return value;
}

/** `depth` objects, each holding the next. */
export function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = { next: value };
  return value;
}

class Custom {
  field = 1;
}

/** Values that are not plain JSON, each with why. Every store refuses them, whatever its caller's limits. */
export const NOT_JSON: [string, () => unknown][] = [
  ['a cycle', cyclic],
  ['a function', () => ({ fn: () => 1 })],
  ['a BigInt', () => ({ big: 10n })],
  ['NaN', () => ({ n: Number.NaN })],
  ['Infinity', () => [Number.POSITIVE_INFINITY]],
  ['-Infinity', () => ({ n: Number.NEGATIVE_INFINITY })],
  ['undefined', () => ({ u: undefined })],
  ['a symbol', () => ({ s: Symbol('s') })],
  ['a Date', () => ({ when: new Date(0) })],
  ['a Map', () => ({ map: new Map([[1, 2]]) })],
  ['a Buffer', () => ({ bytes: Buffer.from('x') })],
  ['a class instance', () => ({ custom: new Custom() })],
  ['a __proto__ key', () => JSON.parse('{"safe": {"__proto__": {"polluted": true}}}')],
  ['a constructor key', () => ({ constructor: { prototype: {} } })],
  ['a symbol key', () => ({ [Symbol('k')]: 1 })],
  [
    'a sparse array',
    () => {
      const list = [1];
      list[2] = 3;
      return { list };
    },
  ],
  ['an accessor', () => Object.defineProperty({}, 'get', { get: () => 1, enumerable: true })],
  ['a lone surrogate', () => ({ text: 'bad \ud800 half' })],
  ['a NUL character', () => ({ text: 'nul \u0000 inside' })],
];

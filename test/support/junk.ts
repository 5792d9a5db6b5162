import fc from 'fast-check';

/**
 * Copies of `base` with one member, at any depth, replaced by anything fast-check makes: the
 * input that checks "never throws on any malformed part of a valid document".
 */
export function oneMemberJunk(base: object): fc.Arbitrary<Record<string, any>> {
  const paths: string[][] = [];
  const walk = (v: unknown, path: string[]) => {
    if (path.length) paths.push(path);
    if (v && typeof v === 'object') for (const [k, c] of Object.entries(v)) walk(c, [...path, k]);
  };
  walk(base, []);
  return fc.tuple(fc.constantFrom(...paths), fc.anything()).map(([path, junk]) => {
    const b = structuredClone(base) as Record<string, any>;
    let parent = b;
    for (const k of path.slice(0, -1)) parent = parent[k];
    parent[path[path.length - 1]] = junk;
    return b;
  });
}

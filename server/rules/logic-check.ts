import type { FactCatalogue } from './facts';

/** A JSON Logic expression (https://jsonlogic.com). */
export type JsonLogic = null | boolean | number | string | JsonLogic[] | { [op: string]: JsonLogic };

/** The only operators a rule may use: no `method`, string or array builders, or custom ops. */
export const ALLOWED_OPERATORS: ReadonlySet<string> = new Set([
  'var',
  '==',
  '===',
  '!=',
  '!==',
  '<',
  '<=',
  '>',
  '>=',
  'and',
  'or',
  '!',
  '!!',
  'if',
  'in',
  'some',
  'all',
  'none',
  'max',
  'min',
  '+',
  '-',
  '*',
  '/',
  'missing',
  'missing_some',
]);
export const MAX_LOGIC_NODES = 2000;
export const MAX_LOGIC_DEPTH = 20;

const COMPARISONS = new Set(['==', '===', '!=', '!==', '<', '<=', '>', '>=']);
const ARITY: Record<string, [number, number]> = {
  var: [1, 2],
  some: [2, 2],
  all: [2, 2],
  none: [2, 2],
  missing_some: [2, 2],
  '!': [1, 1],
  '!!': [1, 1],
  '==': [2, 2],
  '===': [2, 2],
  '!=': [2, 2],
  '!==': [2, 2],
  '>': [2, 2],
  '>=': [2, 2],
  '<': [2, 3],
  '<=': [2, 3],
  in: [2, 2],
  if: [1, Infinity],
};

interface Scope {
  /** var paths readable here, with the element paths when the value is an array. */
  paths: ReadonlyMap<string, { array?: readonly string[]; days?: boolean }>;
}

export type LogicIssue = { path: (string | number)[]; message: string };

/**
 * Checks one JSON Logic tree against a fact catalogue: allowed operators and arities, known
 * `var` paths (element paths inside some/all/none), size and depth limits, and, when
 * `horizonDays` is given, no comparison of a day count with a number at or beyond it.
 * Stops at the first size or depth overflow.
 */
export function checkLogic(
  root: unknown,
  catalogue: FactCatalogue,
  opts: { horizonDays?: number; dayElementPaths?: readonly string[] } = {},
): LogicIssue[] {
  const ROOT: Scope = { paths: new Map(Object.entries(catalogue)) };
  const elementScope = (paths: readonly string[]): Scope => ({
    paths: new Map(paths.map((p) => [p, { days: (opts.dayElementPaths ?? []).includes(p) }])),
  });
  const horizonDays = opts.horizonDays ?? Infinity;
  const issues: LogicIssue[] = [];
  let nodes = 0;
  let overflow = false;
  const walk = (node: unknown, scope: Scope, path: (string | number)[], depth: number): void => {
    if (overflow) return;
    if (++nodes > MAX_LOGIC_NODES || depth > MAX_LOGIC_DEPTH) {
      overflow = true;
      issues.push({ path, message: `expression exceeds ${MAX_LOGIC_NODES} nodes or depth ${MAX_LOGIC_DEPTH}` });
      return;
    }
    if (node === null || typeof node === 'string' || typeof node === 'boolean') return;
    if (typeof node === 'number') {
      if (!Number.isFinite(node)) issues.push({ path, message: 'numbers must be finite' });
      return;
    }
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, scope, [...path, i], depth + 1));
    if (typeof node !== 'object') return void issues.push({ path, message: `not JSON: ${typeof node}` });
    const keys = Object.keys(node);
    if (keys.length !== 1) return void issues.push({ path, message: 'an operation is an object with exactly one key' });
    const op = keys[0];
    const raw = (node as Record<string, unknown>)[op];
    const at = [...path, op];
    if (!ALLOWED_OPERATORS.has(op)) return void issues.push({ path: at, message: `operator "${op}" is not allowed` });
    const args: unknown[] = Array.isArray(raw) ? raw : [raw];
    const argPath = (i: number) => (Array.isArray(raw) ? [...at, i] : at);
    const [lo, hi] = ARITY[op] ?? [0, Infinity];
    if (args.length < lo || args.length > hi)
      return void issues.push({ path: at, message: `"${op}" takes ${lo === hi ? lo : `${lo} to ${hi}`} arguments` });
    const known = (p: unknown, where: (string | number)[]) => {
      if (typeof p !== 'string' || !scope.paths.has(p) || (p === '' && scope === ROOT)) {
        issues.push({ path: where, message: `unknown fact ${JSON.stringify(p)}` });
        return undefined;
      }
      return scope.paths.get(p);
    };
    switch (op) {
      case 'var':
        known(args[0], argPath(0));
        if (args.length === 2) walk(args[1], scope, argPath(1), depth + 1);
        return;
      case 'missing': {
        const names = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
        return names.forEach((n, i) => known(n, [...at, i]));
      }
      case 'missing_some':
        if (typeof args[0] !== 'number' || !Array.isArray(args[1]))
          return void issues.push({ path: at, message: '"missing_some" takes a count and a list of facts' });
        return args[1].forEach((n, i) => known(n, [...at, 1, i]));
      case 'some':
      case 'all':
      case 'none': {
        const over = args[0] as Record<string, unknown> | null;
        const v =
          over && typeof over === 'object' && !Array.isArray(over) && Object.keys(over).length === 1
            ? over.var
            : undefined;
        const name = Array.isArray(v) ? v[0] : v;
        const fact = typeof name === 'string' ? scope.paths.get(name) : undefined;
        if (!fact?.array)
          return void issues.push({
            path: argPath(0),
            message: `"${op}" must iterate over an array fact, e.g. {"var": "visits"}`,
          });
        walk(args[0], scope, argPath(0), depth + 1);
        return walk(args[1], elementScope(fact.array), argPath(1), depth + 1);
      }
    }
    args.forEach((a, i) => walk(a, scope, argPath(i), depth + 1));
    if (COMPARISONS.has(op)) {
      const countsDays = args.some((a) => {
        const v = a && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>).var : undefined;
        const name = Array.isArray(v) ? v[0] : v;
        return typeof name === 'string' && scope.paths.get(name)?.days === true;
      });
      // reviewAt only follows a date for horizonDays days, so a rule must not tell later days apart.
      const beyond = args.find((a) => typeof a === 'number' && a >= horizonDays);
      if (countsDays && beyond !== undefined) {
        issues.push({
          path: at,
          message: `compares a day count with ${beyond}, which needs horizonDays above ${beyond}`,
        });
      }
    }
  };
  walk(root, ROOT, [], 1);
  return issues;
}

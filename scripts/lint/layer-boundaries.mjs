// The layer boundaries of DESIGN.md ("Layers: dependencies point one way") as an ESLint rule.
// It resolves each relative import against the importing file and compares repo paths, so it
// needs no module resolver and also sees `import type`, `require()`, `import()`, `export … from`
// and `import('…')` types: a type-only import is a dependency too.
import path from 'node:path';

/**
 * The boundaries. `from` is the folder a rule applies to; `only` lists the folders it may import
 * from (anything else in the repo is refused), `forbid` those it may not. Packages are never
 * checked: only relative imports point inside the repo.
 */
export const LAYERS = [
  {
    from: 'verifier/',
    only: ['verifier/'],
    why: 'the verifier is its own npm package and depends on nothing else here',
  },
  {
    from: 'ledger/',
    forbid: ['anchor/', 'server/', 'scripts/', 'web/', 'verifier/cli/'],
    why: 'the ledger sits below anchor/ and server/, which both use it',
  },
  {
    from: 'anchor/',
    forbid: ['server/', 'scripts/', 'web/', 'verifier/cli/'],
    why: 'anchor/ uses verifier/src and the ledger, never server/ or an entry point',
  },
  {
    from: 'server/',
    forbid: ['verifier/cli/', 'scripts/', 'web/src/'],
    why: "server/ uses the layers below it, not the entry points (the CLI, scripts/) or the pages' sources",
  },
  {
    from: 'web/',
    forbid: ['server/', 'anchor/', 'ledger/', 'verifier/cli/'],
    why: 'the pages reach the server over HTTP only',
  },
];

const toPosix = (p) => p.split(path.sep).join('/');
const within = (file, folder) => file === folder.slice(0, -1) || file.startsWith(folder);

/** @type {import('eslint').Rule.RuleModule} */
const layerBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep imports pointing one way between the layers (DESIGN.md, "Layers")' },
    schema: [
      {
        type: 'object',
        properties: { root: { type: 'string' }, layers: { type: 'array' } },
        required: ['root'],
        additionalProperties: false,
      },
    ],
    messages: {
      crossed: '{{from}} may not import {{target}} ({{why}}); move what both need down a layer.',
    },
  },
  create(context) {
    const { root, layers = LAYERS } = context.options[0];
    const file = toPosix(path.relative(root, context.filename));
    const layer = layers.find((l) => within(file, l.from));
    if (!layer || file.startsWith('../')) return {};

    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const target = toPosix(path.relative(root, path.resolve(path.dirname(context.filename), spec)));
      if (target.startsWith('../')) return;
      const refused = layer.only
        ? !layer.only.some((f) => within(target, f))
        : layer.forbid.some((f) => within(target, f));
      if (refused) context.report({ node, messageId: 'crossed', data: { from: layer.from, target, why: layer.why } });
    };
    const fromSource = (node) => node.source && check(node.source, node.source.value);

    return {
      ImportDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ImportExpression: (node) => node.source.type === 'Literal' && check(node.source, node.source.value),
      CallExpression(node) {
        const [arg] = node.arguments;
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && arg?.type === 'Literal') {
          check(arg, arg.value);
        }
      },
      TSExternalModuleReference: (node) =>
        node.expression.type === 'Literal' && check(node.expression, node.expression.value),
      TSImportType(node) {
        const lit = node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument;
        if (lit?.type === 'Literal') check(lit, lit.value);
      },
    };
  },
};

export default { rules: { 'layer-boundaries': layerBoundaries } };

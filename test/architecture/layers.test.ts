import path from 'node:path';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

// Issue 16 point 3: layers that point one way. dependency-cruiser reads every import under src/
// (type-only imports and `import('…')` types included) and these rules must hold:
const RULES: IForbiddenRuleType[] = [
  {
    name: 'collector-or-sink-imports-agent-or-cli',
    comment: 'collectors run on worker threads for the agent, and sinks are driven by the agent and the CLI: neither reaches back into them (live forwarding once imported the agent\'s summary types)',
    severity: 'error',
    from: { path: '^src/(collectors|sinks)/' },
    to: { path: '^src/(agent|cli)/' },
  },
  {
    name: 'collector-or-sink-reaches-agent-or-cli',
    comment: 'nor through a module below them: the row registry once imported the agent, so every collector using it reached the agent',
    severity: 'error',
    from: { path: '^src/(collectors|sinks)/' },
    to: { path: '^src/(agent|cli)/', reachable: true },
  },
  {
    name: 'native-imports-collector',
    comment: "the native loader and the addon's types sit below the collectors that use them",
    severity: 'error',
    from: { path: '^src/native/' },
    to: { path: '^src/collectors/' },
  },
  {
    name: 'util-imports-a-feature',
    comment: 'general helpers live below every feature: src/util imports only src/util',
    severity: 'error',
    from: { path: '^src/util/' },
    to: { path: '^src/', pathNot: '^src/util/' },
  },
  {
    name: 'qmp-client-imports-a-user',
    comment: 'the QMP client is a module of its own, below the collector, target resolution and the lab that use it',
    severity: 'error',
    from: { path: '^src/qmp/' },
    to: { path: '^src/', pathNot: '^src/(qmp|util)/' },
  },
  {
    name: 'import-cycle',
    comment: 'no module reaches itself through its imports',
    severity: 'error',
    from: { path: '^src/' },
    to: { circular: true },
  },
];

let result: ICruiseResult;

beforeAll(async () => {
  const out = await cruise(
    ['src'],
    {
      baseDir: ROOT, // modules are named relative to it: src/agent/target.ts
      validate: true,
      ruleSet: { forbidden: RULES },
      tsPreCompilationDeps: true, // type-only imports are edges too
      tsConfig: { fileName: path.join(ROOT, 'tsconfig.json') },
      doNotFollow: { path: 'node_modules' },
      outputType: 'json',
    },
    // NodeNext imports name the .js a .ts file compiles to.
    { extensionAlias: { '.js': ['.ts', '.js'], '.mjs': ['.mts', '.mjs'] } },
  );
  result = JSON.parse(out.output as string) as ICruiseResult;
}, 120_000);

describe('layers', () => {
  // Guards against rules passing vacuously: a resolution that failed leaves no edge for a rule to catch.
  it('reads every module under src/ and resolves every relative import', () => {
    const local = result.modules.filter((m) => m.source.startsWith('src/'));
    expect(local.length).toBeGreaterThan(50);
    const unresolved = local.flatMap((m) => m.dependencies.filter((d) => d.couldNotResolve && d.module.startsWith('.')).map((d) => `${m.source} -> ${d.module}`));
    expect(unresolved).toEqual([]);
    const deps = local.flatMap((m) => m.dependencies);
    expect(deps.map((d) => d.resolved)).toContain('src/native/addon.ts');
    // Type-only imports are edges too: the native loader once reached a collector through an `import('…')` type.
    expect(deps.filter((d) => d.dependencyTypes.includes('type-only')).length).toBeGreaterThan(0);
  });

  // Regression for: the proc collector imported errno names and pacing from the agent, the row registry imported
  // the agent's rows (so every collector using it reached the agent), the native loader imported a collector's
  // type, and `npx madge --circular` showed four import cycles.
  it('no import breaks a layering rule', () => {
    // rule: from -> to, and the whole path when it is longer than one import (a cycle, or a module reached through others).
    const violations = result.summary.violations.map((v) => {
      const path = v.cycle ?? v.via;
      return `${v.rule.name}: ${v.from} -> ${v.to}${path?.length ? ` (${v.cycle ? 'cycle' : 'via'}: ${[v.from, ...path.map((c) => c.name)].join(' -> ')})` : ''}`;
    });
    expect(violations, violations.join('\n')).toEqual([]);
  });
});

// A fast "certainly valid" predicate compiled once from a zod schema (the
// row schemas stay the single source of truth): verify checks millions of
// rows, and zod's safeParse builds an output object per row. The predicate
// answers true only when zod's safeParse would succeed; false means "not
// certain" and the caller asks zod itself, so verdicts and error messages
// stay zod's. A construct it does not know (a refinement, a transform, a
// check kind, a catchall, coercion) compiles to "not certain".
import type { z } from 'zod';

export type Check = (v: unknown) => boolean;

const never: Check = () => false;

interface Def {
  type: string;
  checks?: Array<{ _zod: { def: Record<string, unknown> } }>;
  [k: string]: unknown;
}
interface Internals {
  def: Def;
  traits: Set<string>;
  optin?: string;
  optout?: string;
  values?: Set<unknown>;
}
const zodOf = (s: unknown): Internals => (s as { _zod: Internals })._zod;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Whether an object key absent from the input is accepted by `schema` with nothing put in its place (zod's handlePropertyResult). */
export function absentAccepted(schema: unknown): boolean {
  const z = zodOf(schema);
  return z.optin === 'optional' && z.optout === 'optional';
}

/** Number checks zod runs after the type: each must hold. Null when one is of a kind not known here. */
function numberChecks(def: Def): Check | null {
  const parts: Check[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.when !== undefined) return null;
    if (d.check === 'number_format' && d.format === 'safeint') parts.push((v) => Number.isSafeInteger(v));
    else if (d.check === 'greater_than' && typeof d.value === 'number') {
      const min = d.value;
      parts.push(d.inclusive === true ? (v) => (v as number) >= min : (v) => (v as number) > min);
    } else if (d.check === 'less_than' && typeof d.value === 'number') {
      const max = d.value;
      parts.push(d.inclusive === true ? (v) => (v as number) <= max : (v) => (v as number) < max);
    } else return null;
  }
  // The common row field: a non-negative safe integer, as one predicate.
  if (parts.length === 0) return () => true;
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 2) {
    const [a, b] = parts as [Check, Check];
    return (v) => a(v) && b(v);
  }
  return (v) => parts.every((p) => p(v));
}

function stringChecks(def: Def): Check | null {
  const parts: Check[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    const n = typeof d.length === 'number' ? d.length : typeof d.minimum === 'number' ? d.minimum : typeof d.maximum === 'number' ? d.maximum : null;
    if (n === null) return null;
    if (d.check === 'length_equals') parts.push((v) => (v as string).length === n);
    else if (d.check === 'min_length') parts.push((v) => (v as string).length >= n);
    else if (d.check === 'max_length') parts.push((v) => (v as string).length <= n);
    else return null;
  }
  if (parts.length === 0) return () => true;
  return (v) => parts.every((p) => p(v));
}

const compiled = new WeakMap<object, Check>();

/** `v => zod would accept v`, or false when that is not certain. Compiled once per schema. */
export function compileCheck(schema: z.ZodType | unknown): Check {
  const hit = compiled.get(schema as object);
  if (hit) return hit;
  const check = build(schema);
  compiled.set(schema as object, check);
  return check;
}

function build(schema: unknown): Check {
  const z = zodOf(schema);
  const def = z.def;
  // A schema that is itself a check (z.int(), z.email()) or coerces: only z.int()'s format is known.
  const selfCheck = z.traits.has('$ZodCheck');
  if (def.coerce) return never;
  switch (def.type) {
    case 'number': {
      if (selfCheck && !(def.check === 'number_format' && def.format === 'safeint')) return never;
      const more = numberChecks(def);
      if (!more) return never;
      const safe = selfCheck;
      return (v) => typeof v === 'number' && Number.isFinite(v) && (!safe || Number.isSafeInteger(v)) && more(v);
    }
    case 'string': {
      if (selfCheck) return never;
      const more = stringChecks(def);
      if (!more) return never;
      return (v) => typeof v === 'string' && more(v);
    }
    case 'boolean':
      if (selfCheck || def.checks?.length) return never;
      return (v) => typeof v === 'boolean';
    case 'literal':
    case 'enum': {
      if (selfCheck || def.checks?.length || !z.values) return never;
      const values = z.values;
      return (v) => values.has(v);
    }
    case 'unknown':
    case 'any':
      if (def.checks?.length) return never;
      return () => true;
    case 'null':
      if (def.checks?.length) return never;
      return (v) => v === null;
    case 'nullable': {
      if (def.checks?.length) return never;
      const inner = compileCheck(def.innerType);
      return (v) => v === null || inner(v);
    }
    case 'optional': {
      if (def.checks?.length) return never;
      const inner = compileCheck(def.innerType);
      // Inside an object an absent key is judged by the object; a value from JSON is never undefined.
      return (v) => v !== undefined && inner(v);
    }
    case 'union': {
      if (def.checks?.length || def.inclusive === false) return never;
      const options = (def.options as unknown[]).map(compileCheck);
      return (v) => options.some((o) => o(v));
    }
    case 'array': {
      if (def.checks?.length) return never;
      const element = compileCheck(def.element);
      return (v) => {
        if (!Array.isArray(v)) return false;
        for (let i = 0; i < v.length; i++) if (!element(v[i])) return false;
        return true;
      };
    }
    case 'record':
      return buildRecord(def);
    case 'object':
      return buildObject(def);
    default:
      return never;
  }
}

function buildRecord(def: Def): Check {
  if (def.checks?.length || def.mode === 'loose') return never;
  const key = zodOf(def.keyType);
  // Only a key schema that is any string (not an enum of keys, which makes the record exhaustive).
  if (key.def.type !== 'string' || key.def.checks?.length || key.traits.has('$ZodCheck') || key.values) return never;
  const value = compileCheck(def.valueType);
  return (v) => {
    // zod's isPlainObject, for what JSON.parse makes: a plain prototype and no own `constructor` to confuse it.
    if (!isObject(v) || Object.getPrototypeOf(v) !== Object.prototype || Object.hasOwn(v, 'constructor')) return false;
    for (const k of Object.keys(v)) {
      if (k === '__proto__' || !value(v[k])) return false;
    }
    return true;
  };
}

function buildObject(def: Def): Check {
  if (def.checks?.length) return never;
  const catchall = def.catchall === undefined ? undefined : zodOf(def.catchall).def.type;
  if (catchall !== undefined && catchall !== 'never') return never;
  const strict = catchall === 'never';
  const shape = def.shape as Record<string, unknown>;
  if (Object.getOwnPropertySymbols(shape).length || Object.hasOwn(shape, '__proto__')) return never;
  const keys = Object.keys(shape);
  const checks = keys.map((k) => compileCheck(shape[k]));
  const absentOk = keys.map((k) => absentAccepted(shape[k]));
  const keySet = new Set(keys);
  return (v) => {
    if (!isObject(v)) return false;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (!(k in v)) {
        if (!absentOk[i]) return false;
      } else if (!checks[i]!(v[k])) return false;
    }
    if (strict) for (const k in v) if (!keySet.has(k)) return false;
    return true;
  };
}

/**
 * How a top-level row field is checked on a JSON token without building the value: which
 * tokens it takes and their bounds. `generic` when the field is more than that (an object, a
 * union, a check of another kind): the token is then decoded and given to compileCheck's predicate.
 */
export interface TokenPlan {
  generic: boolean;
  nullOk: boolean;
  boolOk: boolean;
  /** Numbers: taken at all, safe integers only, and the bounds (±Infinity when none). */
  numOk: boolean;
  int: boolean;
  /**
   * Numbers that are not integers, when their value need not be known: 1 any finite number, 2 one
   * at least 0, 3 one above 0 (and no upper bound, not int); 0 when the value must be computed.
   */
  floatFree: 0 | 1 | 2 | 3;
  min: number;
  minIncl: boolean;
  max: number;
  maxIncl: boolean;
  /** Strings: any (within the length bounds, ASCII only here), or one of `options`. */
  strOk: boolean;
  minLen: number;
  maxLen: number;
  options: string[] | null;
}

export function tokenPlan(schema: unknown): TokenPlan {
  const plan: TokenPlan = {
    generic: true, nullOk: false, boolOk: false, numOk: false, int: false, floatFree: 0, min: -Infinity, minIncl: true, max: Infinity, maxIncl: true, strOk: false, minLen: 0, maxLen: Infinity, options: null,
  };
  let z = zodOf(schema);
  // Through nullable and optional (a value from JSON is never undefined) to the type.
  while (z.def.type === 'nullable' || z.def.type === 'optional') {
    if (z.def.checks?.length) return plan;
    if (z.def.type === 'nullable') plan.nullOk = true;
    z = zodOf(z.def.innerType);
  }
  const def = z.def;
  const selfCheck = z.traits.has('$ZodCheck');
  if (def.coerce) return plan;
  if (def.type === 'number') {
    if (selfCheck) {
      if (!(def.check === 'number_format' && def.format === 'safeint')) return plan;
      plan.int = true;
    }
    for (const c of def.checks ?? []) {
      const d = c._zod.def;
      if (d.when !== undefined) return plan;
      if (d.check === 'number_format' && d.format === 'safeint') plan.int = true;
      else if (d.check === 'greater_than' && typeof d.value === 'number') {
        if (d.value > plan.min || (d.value === plan.min && d.inclusive !== true)) (plan.min = d.value), (plan.minIncl = d.inclusive === true);
      } else if (d.check === 'less_than' && typeof d.value === 'number') {
        if (d.value < plan.max || (d.value === plan.max && d.inclusive !== true)) (plan.max = d.value), (plan.maxIncl = d.inclusive === true);
      } else return plan;
    }
    plan.numOk = true;
    if (!plan.int && plan.max === Infinity) plan.floatFree = plan.min === -Infinity ? 1 : plan.min === 0 ? (plan.minIncl ? 2 : 3) : 0;
  } else if (def.type === 'string') {
    if (selfCheck) return plan;
    for (const c of def.checks ?? []) {
      const d = c._zod.def;
      if (d.check === 'length_equals' && typeof d.length === 'number') (plan.minLen = Math.max(plan.minLen, d.length)), (plan.maxLen = Math.min(plan.maxLen, d.length));
      else if (d.check === 'min_length' && typeof d.minimum === 'number') plan.minLen = Math.max(plan.minLen, d.minimum);
      else if (d.check === 'max_length' && typeof d.maximum === 'number') plan.maxLen = Math.min(plan.maxLen, d.maximum);
      else return plan;
    }
    plan.strOk = true;
  } else if (def.type === 'boolean') {
    if (selfCheck || def.checks?.length) return plan;
    plan.boolOk = true;
  } else if (def.type === 'literal' || def.type === 'enum') {
    if (selfCheck || def.checks?.length || !z.values) return plan;
    const options: string[] = [];
    for (const v of z.values) {
      if (v === null) plan.nullOk = true;
      else if (typeof v === 'boolean') return plan;
      else if (typeof v === 'string' && /^[\x20-\x7e]*$/.test(v) && !/["\\]/.test(v)) options.push(v);
      else return plan;
    }
    plan.options = options;
  } else if (def.type === 'null') {
    if (def.checks?.length) return plan;
    plan.nullOk = true;
  } else return plan;
  plan.generic = false;
  return plan;
}

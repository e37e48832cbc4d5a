// Test support for the catalog's specs (not exported from the library): edit one field of a valid
// configuration object by path, so each table row breaks exactly one thing.
import { stringify } from 'yaml';

type Path = readonly (string | number)[];

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  let node = root;
  for (const key of path.slice(0, -1)) node = (node as Record<string | number, unknown>)[key];
  return node as Record<string | number, unknown>;
}

/** YAML of `file` with the value at `path` replaced (or added). */
export function withValue(file: unknown, path: Path, value: unknown): string {
  const copy: unknown = structuredClone(file);
  parentOf(copy, path)[path[path.length - 1] ?? ''] = value;
  return stringify(copy);
}

/** YAML of `file` without the value at `path`. */
export function without(file: unknown, path: Path): string {
  const copy: unknown = structuredClone(file);
  delete parentOf(copy, path)[path[path.length - 1] ?? ''];
  return stringify(copy);
}

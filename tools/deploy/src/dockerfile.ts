/**
 * Just enough of the Dockerfile grammar to check this repository's Dockerfiles and replay their commands without a
 * Docker engine: comments, `\` line continuations, stages (`FROM image AS name`), and the instructions with their
 * arguments in shell form or JSON (exec) form. Parser directives, heredocs and variable expansion are not used here
 * and not supported: `parseDockerfile` throws on a heredoc rather than misread it.
 */

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, ENV, … */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** The arguments when written as a JSON array (exec form), else undefined. */
  exec?: string[];
  /** 1-based line the instruction starts on. */
  line: number;
}

export interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

export function parseInstructions(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let joined = first;
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      joined = joined.slice(0, -1).trimEnd();
      // Comment lines inside a continued instruction are dropped, as Docker does.
      let next = lines[++i]!.trim();
      while (next.startsWith('#') && i + 1 < lines.length) next = lines[++i]!.trim();
      joined = `${joined} ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/.exec(joined)!;
    const keyword = match[1]!.toUpperCase();
    const args = match[2]!.trim();
    if (args.includes('<<')) throw new Error(`line ${start}: heredocs are not supported by this parser`);
    instructions.push({ keyword, args, exec: execForm(args), line: start });
  }
  return instructions;
}

function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(args);
    return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of parseInstructions(text)) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (match === null) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      stages.push({ image: match[1]!, name: match[2], instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
    stage.instructions.push(instruction);
  }
  return stages;
}

/** `ENV A=1 B="two"` (and the old `ENV A 1`) as a record. */
export function envOf(instruction: Instruction): Record<string, string> {
  const env: Record<string, string> = {};
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=]*)$/.exec(instruction.args);
  if (legacy !== null) {
    env[legacy[1]!] = legacy[2]!.trim();
    return env;
  }
  for (const match of instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = match[2]!;
    env[match[1]!] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return env;
}

export interface Copy {
  /** The stage copied from (`--from=`), or undefined for the build context. */
  from: string | undefined;
  sources: string[];
  destination: string;
}

export function copyOf(instruction: Instruction): Copy {
  const words = instruction.exec ?? instruction.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  if (paths.length < 2) throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return { from, sources: paths.slice(0, -1), destination: paths.at(-1)! };
}

/** HEALTHCHECK's options (`--interval=5s` → interval: '5s') and its command (exec form) or shell string. */
export function healthcheckOf(instruction: Instruction): { options: Record<string, string>; command: string[] } {
  const match = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(instruction.args);
  if (match === null) throw new Error(`line ${instruction.line}: HEALTHCHECK without CMD`);
  const options = Object.fromEntries(
    match[1]!.trim().split(/\s+/).filter(Boolean).map((o) => {
      const [key, value] = o.replace(/^--/, '').split('=');
      return [key!, value ?? ''];
    }),
  );
  const command = execForm(match[2]!.trim()) ?? ['/bin/sh', '-c', match[2]!.trim()];
  return { options, command };
}

/** A RUN instruction's shell command without its BuildKit flags (`--mount=…`, `--network=…`). */
export function runCommandOf(instruction: Instruction): string {
  if (instruction.exec !== undefined) throw new Error(`line ${instruction.line}: RUN in exec form is not used here`);
  return instruction.args.replace(/^(?:--\S+\s+)*/, '');
}

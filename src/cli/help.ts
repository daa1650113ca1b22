import type { CommandSpec, OptionSpec } from './command.js';

export function renderMainHelp(commands: readonly { name: string; summary: string }[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'ois: the OIS federation agent. Joins OpenClaw assistants into one team over a shared team folder.',
    '',
    'Usage: ois <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `ois <command> --help` for a command. Every command takes --home, --team, --json and --help.',
    'Docs: README.md, docs/errors.md (error codes), docs/config.md (settings), docs/json.md (--json), specs/ (formats).',
    '',
  ].join('\n');
}

export function renderCommandHelp(spec: CommandSpec, globals: Record<string, OptionSpec>): string {
  const lines = [
    `ois ${spec.name}: ${spec.summary}`,
    '',
    'Usage:',
    ...spec.usage.map((u) => `  ois ${u}`),
    '',
  ];
  const opts = (o: Record<string, OptionSpec>) => {
    const rows = Object.entries(o).map(([k, v]) => [
      `${v.short ? `-${v.short}, ` : ''}--${k}${v.type === 'string' ? ` ${v.value ?? 'VALUE'}` : ''}`,
      v.description,
    ]);
    const width = Math.max(0, ...rows.map((r) => r[0]!.length));
    return rows.map(([a, b]) => `  ${a!.padEnd(width)}  ${b}`);
  };
  if (Object.keys(spec.options).length > 0) lines.push('Options:', ...opts(spec.options), '');
  lines.push('Global options:', ...opts(globals), '');
  if (spec.notes && spec.notes.length > 0) lines.push('Notes:', ...spec.notes.map((n) => `  ${n}`), '');
  if (spec.examples && spec.examples.length > 0)
    lines.push('Examples:', ...spec.examples.map((e) => `  ${e}`), '');
  return lines.join('\n');
}

import { OTHER_ENV, SETTINGS } from './declarations.js';

/** Renders docs/config.md from the declarations. */
export function renderConfigDoc(): string {
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated from src/config/declarations.ts by `npm run docs:config`. Do not edit by hand. -->',
    '',
    'An instance keeps its settings in `$OIS_HOME/config.yaml` (written by `ois init`). Each setting can be',
    'overridden by an environment variable, and some by a flag: defaults < file < environment < flags.',
    'Problems are reported together, with the file and key.',
    '',
    '| key | type | default | environment | flag | description |',
    '|---|---|---|---|---|---|',
  ];
  for (const s of SETTINGS) {
    const def = s.default === null ? '' : `\`${s.default}\``;
    const env = s.env ? `\`${s.env}\`` : '';
    const flag = s.flag ? `\`${s.flag}\`` : '';
    lines.push(`| \`${s.key}\` | ${s.type} | ${def} | ${env} | ${flag} | ${s.description} |`);
  }
  lines.push('', '## Other environment variables', '', '| variable | meaning |', '|---|---|');
  for (const e of OTHER_ENV) lines.push(`| \`${e.env}\` | ${e.description} |`);
  lines.push(
    '',
    '## Secrets',
    '',
    'Peer gateway tokens live in `$OIS_HOME/secrets.yaml` (mode 0600, written by `ois secrets set`) or in',
    '`OIS_TOKEN_<NAME>`; never in the team folder, the chat log or `config.yaml`.',
    '',
  );
  return lines.join('\n');
}

import { OTHER_ENV, SETTINGS } from './declarations.js';
import { ZH_OTHER_ENV, ZH_SETTINGS, zhDescription } from './doc-zh.js';

interface DocText {
  readonly head: readonly string[];
  readonly settingsHeader: string;
  readonly otherEnvHead: readonly string[];
  readonly tail: readonly string[];
  readonly setting: (key: string, en: string) => string;
  readonly otherEnv: (env: string, en: string) => string;
}

const EN: DocText = {
  head: [
    '中文: [zh/config.md](zh/config.md)',
    '',
    '# Configuration',
    '',
    '<!-- Generated from src/config/declarations.ts by `npm run docs:config`. Do not edit by hand. -->',
    '',
    'An instance keeps its settings in `$OIS_HOME/config.yaml` (written by `ois init`). Each setting can be',
    'overridden by an environment variable, and some by a flag: defaults < file < environment < flags.',
    'Problems are reported together, with the file and key.',
  ],
  settingsHeader: '| key | type | default | environment | flag | description |',
  otherEnvHead: ['## Other environment variables', '', '| variable | meaning |'],
  tail: [
    '## Secrets',
    '',
    'Peer gateway tokens live in `$OIS_HOME/secrets.yaml` (mode 0600, written by `ois secrets set`) or in',
    '`OIS_TOKEN_<NAME>`; never in the team folder, the chat log or `config.yaml`.',
  ],
  setting: (_key, en) => en,
  otherEnv: (_env, en) => en,
};

const ZH: DocText = {
  head: [
    'English: [config.md](../config.md)',
    '',
    '# 配置',
    '',
    '<!-- 由 `npm run docs:config` 根据 src/config/declarations.ts 和 src/config/doc-zh.ts（中文说明）生成，请勿手工编辑。 -->',
    '',
    // One line a paragraph: a line break inside Chinese text renders as a stray space.
    '每个实例的设置保存在 `$OIS_HOME/config.yaml` 中（由 `ois init` 写入）。每项设置都可以用环境变量覆盖，部分设置还可以用命令行参数覆盖，优先级为：默认值 < 配置文件 < 环境变量 < 命令行参数。所有问题会一次性报告出来，并注明所在文件和键名。',
  ],
  settingsHeader: '| 键 | 类型 | 默认值 | 环境变量 | 命令行参数 | 说明 |',
  otherEnvHead: ['## 其他环境变量', '', '| 变量 | 含义 |'],
  tail: [
    '## 密钥',
    '',
    '对端网关的令牌保存在 `$OIS_HOME/secrets.yaml`（权限 0600，由 `ois secrets set` 写入）或 `OIS_TOKEN_<NAME>` 中，绝不会写入团队文件夹、聊天记录或 `config.yaml`。',
  ],
  setting: (key, en) => zhDescription(ZH_SETTINGS, key, en),
  otherEnv: (env, en) => zhDescription(ZH_OTHER_ENV, env, en),
};

function render(text: DocText): string {
  const lines = [...text.head, '', text.settingsHeader, '|---|---|---|---|---|---|'];
  for (const s of SETTINGS) {
    const def = s.default === null ? '' : `\`${s.default}\``;
    const env = s.env ? `\`${s.env}\`` : '';
    const flag = s.flag ? `\`${s.flag}\`` : '';
    lines.push(
      `| \`${s.key}\` | ${s.type} | ${def} | ${env} | ${flag} | ${text.setting(s.key, s.description)} |`,
    );
  }
  lines.push('', ...text.otherEnvHead, '|---|---|');
  for (const e of OTHER_ENV) lines.push(`| \`${e.env}\` | ${text.otherEnv(e.env, e.description)} |`);
  lines.push('', ...text.tail, '');
  return lines.join('\n');
}

/** Renders docs/config.md from the declarations. */
export function renderConfigDoc(): string {
  return render(EN);
}

/**
 * Renders docs/zh/config.md: the same table as docs/config.md around a Chinese text, with the Chinese
 * descriptions from doc-zh.ts (an untranslated or stale one shows the English text, marked `（待翻译）`).
 */
export function renderConfigDocZh(): string {
  return render(ZH);
}

/** Setting keys and variables whose Chinese description is missing, or was made from an older English text. */
export function untranslatedConfigKeys(): string[] {
  return [
    ...SETTINGS.filter((s) => ZH_SETTINGS[s.key]?.en !== s.description).map((s) => s.key),
    ...OTHER_ENV.filter((e) => ZH_OTHER_ENV[e.env]?.en !== e.description).map((e) => e.env),
  ];
}

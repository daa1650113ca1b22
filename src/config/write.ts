import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { storageError } from '../errors.js';
import { writeFileAtomic } from '../team/index.js';
import { CONFIG_FILE } from './load.js';

export interface ConfigFileValues {
  name: string;
  team: string;
  gateway: { url: string; sessionKey: string };
  /** A team on NATS: how to reach it (files by absolute path, never their content). */
  nats?: { nkey?: string; creds?: string; tlsCa?: string; replicas?: number };
}

/** Writes `<home>/config.yaml` atomically (the home is created with mode 0700). */
export async function writeConfigFile(home: string, values: ConfigFileValues): Promise<string> {
  try {
    await mkdir(home, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw storageError('create', home, err);
  }
  const file = join(home, CONFIG_FILE);
  const text = `# OIS instance config, written by \`ois init\`. Keys: docs/config.md. Secrets go in secrets.yaml.\n${dump(values, { lineWidth: -1 })}`;
  await writeFileAtomic(file, text, { mode: 0o600 });
  return file;
}

import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { load } from 'js-yaml';
import { type Env, openclawConfigPath, userHome } from '../config/index.js';
import { OisError } from '../errors.js';
import { type Identity, loadTeamView, signBytes, type TeamView, verifyBytes } from '../membership/index.js';
import { agentId, findAgent, looksLikeToken } from '../registry/index.js';
import type { TeamStore } from '../team/index.js';

/**
 * Team skills (specs/skills.md): an OpenClaw skill folder (a `SKILL.md` with `name` and `description`
 * frontmatter) published into the team folder at `skills/<name>/<version>/`, with a manifest of every
 * file's sha256 signed by its publisher; installed into an OpenClaw workspace's `skills/` only when the
 * signature and every hash verify, with its provenance beside it.
 */
export const SKILLS_DIR = 'skills';
export const MANIFEST = 'ois-manifest.json';
export const PROVENANCE = '.ois-skill.json';
export const MAX_SKILL_BYTES = 1024 * 1024;
export const MAX_SKILL_FILES = 200;
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const VERSION = /^\d+\.\d+\.\d+$/;
const DOMAIN = 'ois-skill-v1\n';

export interface SkillFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  v: 1;
  name: string;
  version: string;
  description: string;
  publisher: string;
  publishedAt: string;
  files: SkillFile[];
  sig: string;
}

function manifestBytes(m: Omit<Manifest, 'sig'>): Buffer {
  const files = [...m.files]
    .sort((a, b) => (a.path < b.path ? -1 : 1))
    .map((f) => [f.path, f.size, f.sha256]);
  return Buffer.from(
    DOMAIN + JSON.stringify([m.v, m.name, m.version, m.description, m.publisher, m.publishedAt, files]),
    'utf8',
  );
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

function bad(message: string, hint: string): OisError {
  return new OisError('OIS_ERR_SKILL_INVALID', message, { hint });
}

/** The frontmatter of a SKILL.md: `name` and `description` (OpenClaw's required fields). */
export function frontmatterOf(text: string): { name: string; description: string } {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/.exec(text);
  if (!m) throw bad('SKILL.md has no YAML frontmatter', 'start it with ---, name: …, description: …, ---');
  let data: unknown;
  try {
    data = load(m[1]!);
  } catch (err) {
    throw bad(
      `the frontmatter of SKILL.md is not YAML: ${(err as Error).message.split('\n')[0]}`,
      'fix the YAML between the --- lines',
    );
  }
  const d = data as { name?: unknown; description?: unknown } | null;
  if (typeof d?.name !== 'string' || !NAME.test(d.name)) {
    throw bad(
      `the skill's name "${String(d?.name ?? '')}" is not lowercase letters, digits and hyphens`,
      'e.g. name: nas-backup-check',
    );
  }
  if (typeof d.description !== 'string' || d.description.trim() === '') {
    throw bad(
      'SKILL.md has no description',
      'description: one line the assistant reads to decide when to use it',
    );
  }
  return { name: d.name, description: d.description.trim() };
}

/** Every file of a skill folder, checked: no links, nothing outside, within the limits, no secrets. */
export async function readSkillDir(
  dir: string,
): Promise<{ name: string; description: string; files: (SkillFile & { data: Buffer })[] }> {
  const root = resolve(dir);
  const info = await lstat(root).catch(() => null);
  if (!info?.isDirectory())
    throw bad(`${dir} is not a folder`, 'give the skill folder (the one with SKILL.md)');
  const files: (SkillFile & { data: Buffer })[] = [];
  let total = 0;
  const walk = async (at: string): Promise<void> => {
    for (const entry of (await readdir(at)).sort()) {
      const path = join(at, entry);
      const st = await lstat(path);
      const rel = relative(root, path).split(sep).join('/');
      if (st.isSymbolicLink())
        throw bad(`${rel} is a symbolic link`, 'a skill holds its own files: copy what the link points to');
      if (st.isDirectory()) {
        await walk(path);
        continue;
      }
      if (!st.isFile()) throw bad(`${rel} is not a regular file`, 'remove it from the skill folder');
      if (rel === MANIFEST || rel === PROVENANCE) continue;
      const data = await readFile(path);
      total += data.length;
      if (files.length >= MAX_SKILL_FILES)
        throw bad(`more than ${MAX_SKILL_FILES} files`, 'a skill is instructions and a few helpers');
      if (total > MAX_SKILL_BYTES)
        throw bad(`over ${MAX_SKILL_BYTES} bytes in all`, 'put large data in the shared/ folder');
      const secret = secretIn(data);
      if (secret)
        throw bad(
          `${rel}:${secret} looks like a secret (a token, key or password)`,
          'a published skill is read by every member: take the secret out',
        );
      files.push({ path: rel, size: data.length, sha256: sha256(data), data });
    }
  };
  await walk(root);
  const skill = files.find((f) => f.path === 'SKILL.md');
  if (!skill) throw bad(`${dir} has no SKILL.md`, 'docs: OpenClaw tools/creating-skills.md');
  return { ...frontmatterOf(skill.data.toString('utf8')), files };
}

/**
 * A line that looks like it holds a secret: `token:`/`password=`/`api_key` followed by a value the
 * registry's scan takes for a real token, a private key block, or a bearer header. Returns its line number.
 */
function secretIn(data: Buffer): number | null {
  if (data.includes(0)) return null;
  const lines = data.toString('utf8').split('\n');
  for (const [i, line] of lines.entries()) {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(line)) return i + 1;
    const m =
      /(?:token|secret|password|passwd|api[_-]?key|authorization)\s*["']?\s*[:=]\s*["']?(?:bearer\s+)?([^\s"'`]+)/i.exec(
        line,
      );
    if (m && looksLikeToken(m[1]) && /[0-9]/.test(m[1]!) && m[1]!.length >= 16) return i + 1;
  }
  return null;
}

async function manifests(store: TeamStore, name: string): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const version of await store.list(`${SKILLS_DIR}/${name}`)) {
    const raw = await store.readFile(`${SKILLS_DIR}/${name}/${version}/${MANIFEST}`).catch(() => null);
    if (!raw) continue;
    try {
      out.push(JSON.parse(raw.toString('utf8')) as Manifest);
    } catch {}
  }
  return out.sort((a, b) => compareVersions(a.version, b.version));
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** Whether a manifest is signed by its publisher, a member the team's records back. */
function verified(m: Manifest, view: TeamView): string | null {
  const a = findAgent(view.registry, m.publisher);
  if (!a || a.status === 'unverified') return `${m.publisher} is not a verified member`;
  const key = (a.extra.federation as { publicKey?: unknown } | undefined)?.publicKey;
  const { sig, ...rest } = m;
  if (typeof key !== 'string' || !verifyBytes(manifestBytes(rest), sig, key))
    return `the manifest is not signed by ${m.publisher}`;
  return null;
}

export interface SkillSummary {
  name: string;
  version: string;
  description: string;
  publisher: string;
  publishedAt: string;
  versions: string[];
  verified: boolean;
  problem: string | null;
}

export async function listSkills(store: TeamStore, home: string): Promise<SkillSummary[]> {
  const view = await loadTeamView(store, home);
  const out: SkillSummary[] = [];
  for (const name of await store.list(SKILLS_DIR)) {
    const all = await manifests(store, name);
    const latest = all.at(-1);
    if (!latest) continue;
    const problem = verified(latest, view);
    out.push({ ...pick(latest), versions: all.map((m) => m.version), verified: problem === null, problem });
  }
  return out;
}

function pick(m: Manifest) {
  return {
    name: m.name,
    version: m.version,
    description: m.description,
    publisher: m.publisher,
    publishedAt: m.publishedAt,
  };
}

/** Publishes a skill folder as this instance: checked, copied into the team folder, its manifest signed. */
export async function publishSkill(
  store: TeamStore,
  home: string,
  self: { name: string; identity: Identity },
  dir: string,
  version?: string,
): Promise<Manifest> {
  const skill = await readSkillDir(dir);
  const view = await loadTeamView(store, home);
  const me = findAgent(view.registry, self.name);
  if (me?.status !== 'active') {
    throw new OisError(
      'OIS_ERR_AGENT_INACTIVE',
      `this instance (${self.name}) is ${me?.status ?? 'not in the team'}: only active members publish`,
      {
        hint: 'join the team first (ois join)',
      },
    );
  }
  const existing = await manifests(store, skill.name);
  const first = existing[0];
  const admin = me.role === 'admin' || me.role === 'owner';
  if (first && agentId(first.publisher) !== agentId(self.name) && !admin) {
    throw new OisError('OIS_ERR_SKILL_NOT_OWNER', `the skill ${skill.name} is ${first.publisher}'s`, {
      hint: `only ${first.publisher} (or an admin) publishes its versions; name yours differently`,
    });
  }
  const latest = existing.at(-1)?.version;
  const v = version ?? (latest ? latest.replace(/\d+$/, (n) => String(Number(n) + 1)) : '1.0.0');
  if (!VERSION.test(v))
    throw new OisError('OIS_ERR_USAGE', `--version ${v} is not MAJOR.MINOR.PATCH`, {
      hint: 'e.g. --version 1.2.0',
    });
  if (existing.some((m) => m.version === v)) {
    throw new OisError('OIS_ERR_SKILL_EXISTS', `${skill.name} ${v} is published already`, {
      hint: 'publish a new version: --version with a higher number',
    });
  }
  const unsigned = {
    v: 1 as const,
    name: skill.name,
    version: v,
    description: skill.description,
    publisher: self.name,
    publishedAt: new Date().toISOString(),
    files: skill.files.map(({ path, size, sha256: h }) => ({ path, size, sha256: h })),
  };
  const manifest: Manifest = {
    ...unsigned,
    sig: signBytes(manifestBytes(unsigned), self.identity.privateKey),
  };
  const base = `${SKILLS_DIR}/${skill.name}/${v}`;
  for (const f of skill.files) await store.writeAtomic(`${base}/${f.path}`, f.data);
  // The manifest last: a version without one is not published (a crash leaves nothing anyone installs).
  await store.writeAtomic(`${base}/${MANIFEST}`, `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** The published version (latest when not given), with every file, verified; refused when anything differs. */
export async function fetchSkill(
  store: TeamStore,
  home: string,
  name: string,
  version?: string,
): Promise<{ manifest: Manifest; files: Map<string, Buffer> }> {
  const all = await manifests(store, name);
  const manifest = version ? all.find((m) => m.version === version) : all.at(-1);
  if (!manifest) {
    throw new OisError(
      'OIS_ERR_SKILL_NOT_FOUND',
      `no skill ${name}${version ? ` ${version}` : ''} in the team folder`,
      { hint: 'ois skills ls lists them' },
    );
  }
  const problem = verified(manifest, await loadTeamView(store, home));
  if (problem)
    throw new OisError('OIS_ERR_SKILL_TAMPERED', `${name} ${manifest.version}: ${problem}`, {
      hint: 'ask its publisher to publish it again',
    });
  const base = `${SKILLS_DIR}/${name}/${manifest.version}`;
  const files = new Map<string, Buffer>();
  for (const f of manifest.files) {
    if (f.path.split('/').some((p) => p === '..' || p === '') || f.path.startsWith('/')) {
      throw new OisError(
        'OIS_ERR_SKILL_TAMPERED',
        `${name}: the manifest names a path outside the skill (${f.path})`,
        { hint: 'do not install it; tell the owner' },
      );
    }
    const data = await store.readFile(`${base}/${f.path}`);
    if (!data || data.length !== f.size || sha256(data) !== f.sha256) {
      throw new OisError(
        'OIS_ERR_SKILL_TAMPERED',
        `${name} ${manifest.version}: ${f.path} changed after it was published`,
        {
          hint: 'someone edited the team folder: do not install it; its publisher publishes it again',
        },
      );
    }
    files.set(f.path, data);
  }
  const listed = new Set(manifest.files.map((f) => f.path));
  const present = await listAll(store, base);
  const extra = present.filter((p) => p !== MANIFEST && !listed.has(p));
  if (extra.length > 0) {
    throw new OisError(
      'OIS_ERR_SKILL_TAMPERED',
      `${name} ${manifest.version}: ${extra.join(', ')} added after it was published`,
      {
        hint: 'someone edited the team folder: do not install it',
      },
    );
  }
  return { manifest, files };
}

async function listAll(store: TeamStore, rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await store.list(rel)) {
    const st = await store.stat(`${rel}/${name}`);
    if (st?.kind === 'dir') for (const p of await listAll(store, `${rel}/${name}`)) out.push(`${name}/${p}`);
    else out.push(name);
  }
  return out;
}

/** The OpenClaw workspace: `--workspace`, else `agents.defaults.workspace` of the local openclaw.json, else ~/.openclaw/workspace. */
export async function workspaceOf(env: Env, explicit?: string): Promise<string> {
  if (explicit) return resolve(explicit);
  const file = openclawConfigPath(env);
  try {
    const config = JSON.parse(await readFile(file, 'utf8')) as {
      agents?: { defaults?: { workspace?: unknown } };
    };
    const ws = config.agents?.defaults?.workspace;
    if (typeof ws === 'string' && ws !== '') return resolve(ws.replace(/^~(?=\/|$)/, userHome(env)));
  } catch {}
  return join(dirname(file), 'workspace');
}

export interface Provenance {
  name: string;
  version: string;
  publisher: string;
  manifestSha256: string;
  team: string;
  installedAt: string;
}

/** Installs a verified skill into `<workspace>/skills/<name>/`, with its provenance. */
export async function installSkill(
  store: TeamStore,
  home: string,
  name: string,
  options: { version?: string; workspace: string; force?: boolean },
): Promise<{ manifest: Manifest; dir: string; provenance: Provenance }> {
  const { manifest, files } = await fetchSkill(store, home, name, options.version);
  const dir = join(options.workspace, 'skills', manifest.name);
  const existing = await readFile(join(dir, PROVENANCE), 'utf8').catch(() => null);
  const present = await lstat(dir).catch(() => null);
  if (present && existing === null && !options.force) {
    throw new OisError('OIS_ERR_SKILL_EXISTS', `${dir} exists and was not installed by ois`, {
      hint: 'move it aside, or --force to replace it',
    });
  }
  const staging = `${dir}.ois-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const [path, data] of files) {
    await mkdir(dirname(join(staging, path)), { recursive: true });
    await writeFile(join(staging, path), data);
  }
  const provenance: Provenance = {
    name: manifest.name,
    version: manifest.version,
    publisher: manifest.publisher,
    manifestSha256: sha256(Buffer.from(JSON.stringify(manifest))),
    team: store.root,
    installedAt: new Date().toISOString(),
  };
  await writeFile(join(staging, PROVENANCE), `${JSON.stringify(provenance, null, 2)}\n`);
  await mkdir(dirname(dir), { recursive: true });
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  return { manifest, dir, provenance };
}

/** The skills of a workspace that ois installed, with their provenance. */
export async function installedSkills(workspace: string): Promise<(Provenance & { dir: string })[]> {
  const root = join(workspace, 'skills');
  const out: (Provenance & { dir: string })[] = [];
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const p = await readFile(join(root, name, PROVENANCE), 'utf8').catch(() => null);
    if (p) out.push({ ...(JSON.parse(p) as Provenance), dir: join(root, name) });
  }
  return out;
}

export async function uninstallSkill(workspace: string, name: string): Promise<string> {
  const dir = join(workspace, 'skills', name);
  const p = await readFile(join(dir, PROVENANCE), 'utf8').catch(() => null);
  if (!p) {
    throw new OisError('OIS_ERR_SKILL_NOT_FOUND', `no skill ${name} installed by ois in ${workspace}`, {
      hint: 'ois skills installed lists them',
    });
  }
  await rm(dir, { recursive: true, force: true });
  return dir;
}

export { OIS_SKILL_MD, OIS_SKILL_NAME } from './ois-skill.js';

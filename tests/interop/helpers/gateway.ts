import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Where scripts/interop.sh installed Node 24 and openclaw (passed in the environment). */
export function openclawInstall(): { node: string; entry: string } {
  const node = process.env.OIS_INTEROP_NODE;
  const entry = process.env.OIS_INTEROP_OPENCLAW;
  if (!node || !entry)
    throw new Error('run the interop suite with `npm run test:interop` (scripts/interop.sh sets it up)');
  return { node, entry };
}

export interface RealGateway {
  name: string;
  url: string;
  port: number;
  token: string;
  home: string;
  log: string;
  stop(): Promise<void>;
  isRunning(): boolean;
}

export interface GatewayOptions {
  name: string;
  port: number;
  dir: string;
  allowSessionsSend: boolean;
  /** Base URL of an OpenAI-compatible server (`http://127.0.0.1:<port>/v1`) used as the model provider. */
  modelUrl?: string;
  /** Give up waiting for /health after this long. */
  startTimeoutMs?: number;
  /** The gateway's token (default: a new random one); a restart passes the one it had. */
  token?: string;
  /** Runs after openclaw.json is written and before the gateway starts (install a plugin, patch the config). */
  beforeStart?: (home: string) => Promise<void>;
}

/** The environment every openclaw process of a gateway home runs with: offline, on loopback. */
function gatewayEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    OPENCLAW_HOME: home,
    OPENCLAW_DISABLE_BONJOUR: '1',
    OPENCLAW_OFFLINE: '1',
    OPENCLAW_NO_AUTO_UPDATE: '1',
    NO_COLOR: '1',
    // A plugin install runs npm in a project of its own: offline, from the tarball and npm's cache only.
    npm_config_offline: 'true',
  };
}

/** Runs an openclaw CLI command against a gateway home (`plugins install …`), bounded in time. */
export function openclawCli(
  home: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { node, entry } = openclawInstall();
  return new Promise((resolve, reject) => {
    const child = spawn(node, [entry, ...args], {
      cwd: home,
      env: gatewayEnv(home),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const running = new Set<RealGateway>();

/** Stops every gateway this process started (for afterAll and process exit). */
export async function stopAllGateways(): Promise<void> {
  await Promise.all([...running].map((g) => g.stop()));
}

/**
 * Starts a real openclaw gateway on loopback as the reference describes: its own OPENCLAW_HOME and log
 * file, an explicit token, and every setting that stops outbound calls (update checks, model catalog,
 * mDNS). The process runs in its own process group so stop() ends it and anything it spawned.
 */
export async function startGateway(options: GatewayOptions): Promise<RealGateway> {
  const { node, entry } = openclawInstall();
  const home = join(options.dir, options.name);
  const configDir = join(home, '.openclaw');
  await mkdir(configDir, { recursive: true });
  const token = options.token ?? randomBytes(24).toString('hex');
  const log = join(home, 'openclaw.log');
  const config: Record<string, unknown> = {
    gateway: {
      mode: 'local',
      port: options.port,
      bind: 'loopback',
      auth: { mode: 'token', token },
      ...(options.allowSessionsSend ? { tools: { allow: ['sessions_send'] } } : {}),
    },
    update: { checkOnStart: false },
    models: { catalogRefresh: { enabled: false } },
    logging: { file: log },
  };
  if (options.modelUrl) {
    config.agents = { defaults: { model: { primary: 'mock/mock-1' } } };
    (config.models as Record<string, unknown>).mode = 'merge';
    (config.models as Record<string, unknown>).providers = {
      mock: {
        baseUrl: options.modelUrl,
        apiKey: 'mock-key',
        api: 'openai-completions',
        models: [
          {
            id: 'mock-1',
            name: 'Mock 1',
            reasoning: false,
            input: ['text'],
            cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
            contextWindow: 128000,
            maxTokens: 4096,
          },
        ],
      },
    };
  }
  await writeFile(join(configDir, 'openclaw.json'), JSON.stringify(config, null, 2));
  await options.beforeStart?.(home);
  const out = join(home, 'stdout.log');
  const { openSync } = await import('node:fs');
  const fd = openSync(out, 'a');
  const child: ChildProcess = spawn(node, [entry, 'gateway', '--port', String(options.port)], {
    cwd: home,
    env: gatewayEnv(home),
    stdio: ['ignore', fd, fd],
    detached: true,
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${options.port}`;
  const gateway: RealGateway = {
    name: options.name,
    url,
    port: options.port,
    token,
    home,
    log: out,
    isRunning: () => !exited,
    async stop() {
      running.delete(gateway);
      if (exited) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {}
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {}
      }, 5000);
      await done;
      clearTimeout(killer);
    },
  };
  running.add(gateway);
  const deadline = Date.now() + (options.startTimeoutMs ?? 90_000);
  for (;;) {
    if (exited) throw new Error(`gateway ${options.name} exited during start:\n${await tail(out)}`);
    try {
      // /health answers while the gateway is still starting; /startupz only once it can serve sessions
      // (before that, sessions_send answers "sessions.create unavailable during gateway startup").
      const res = await fetch(`${url}/startupz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {}
    if (Date.now() > deadline) {
      await gateway.stop();
      throw new Error(
        `gateway ${options.name} did not finish starting (/startupz) within the time limit:\n${await tail(out)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return gateway;
}

async function tail(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-30).join('\n');
  } catch {
    return '(no output)';
  }
}

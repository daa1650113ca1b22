/**
 * Every instance setting, declared once: its default, type, environment variable, command-line flag and
 * description. Layering is defaults < config file < environment < flags. `docs/config.md` is generated from
 * this list (`npm run docs:config`) and a test keeps it current.
 */

export type SettingType = 'string' | 'url' | 'integer' | 'path' | 'team';

export interface SettingDeclaration {
  /** Dotted key in `config.yaml`, e.g. `gateway.url`. */
  readonly key: string;
  readonly type: SettingType;
  readonly default: string | number | null;
  readonly env: string | null;
  readonly flag: string | null;
  readonly description: string;
  /** Inclusive bounds for integers. */
  readonly min?: number;
  readonly max?: number;
}

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:18789';
export const DEFAULT_SESSION_KEY = 'agent:main:main';
export const DEFAULT_WAIT_SESSION_KEY = 'agent:main:ois';

export const SETTINGS = [
  {
    key: 'name',
    type: 'string',
    default: null,
    env: 'OIS_NAME',
    flag: null,
    description: "This instance's agent name in the team registry (set by `ois init --name`).",
  },
  {
    key: 'team',
    type: 'team',
    default: null,
    env: 'OIS_TEAM',
    flag: '--team',
    description:
      'The team: a folder (holds AGENTS.md, chat/, shared/), or a NATS JetStream team `nats://HOST:4222[,HOST:4222…]/TEAM` (docs/scale.md). When unset, the nearest AGENTS.md walking up from the working directory.',
  },
  {
    key: 'gateway.url',
    type: 'url',
    default: DEFAULT_GATEWAY_URL,
    env: 'OIS_GATEWAY_URL',
    flag: null,
    description: "This instance's own OpenClaw gateway, as peers should reach it (published by `ois join`).",
  },
  {
    key: 'gateway.sessionKey',
    type: 'string',
    default: DEFAULT_SESSION_KEY,
    env: 'OIS_SESSION_KEY',
    flag: null,
    description: 'The session on this gateway that messages from peers go into (published by `ois join`).',
  },
  {
    key: 'send.waitSessionKey',
    type: 'string',
    default: DEFAULT_WAIT_SESSION_KEY,
    env: 'OIS_WAIT_SESSION_KEY',
    flag: null,
    description:
      'The outer (calling) session key of a waited send (`ois send --wait`). The gateway refuses a waited send whose target is the calling session, so this is a dedicated key.',
  },
  {
    key: 'send.connectTimeoutMs',
    type: 'integer',
    default: 5000,
    env: 'OIS_CONNECT_TIMEOUT_MS',
    flag: null,
    description: 'How long to wait for a TCP connection to a peer gateway.',
    min: 100,
    max: 120_000,
  },
  {
    key: 'send.timeoutMs',
    type: 'integer',
    default: 15_000,
    env: 'OIS_SEND_TIMEOUT_MS',
    flag: null,
    description:
      "How long to wait for a peer gateway's answer (a waited send adds its wait to this). Past it, a sent message is reported as delivery unknown.",
    min: 100,
    max: 600_000,
  },
  {
    key: 'send.retries',
    type: 'integer',
    default: 3,
    env: 'OIS_SEND_RETRIES',
    flag: null,
    description:
      'Retries of a send that provably did not reach the peer (connection refused, DNS failure, 429/503).',
    min: 0,
    max: 10,
  },
  {
    key: 'serve.port',
    type: 'integer',
    default: null,
    env: 'OIS_SERVE_PORT',
    flag: '--port (ois serve)',
    description:
      "Port of the daemon (`ois serve`). Default: the gateway's port + 11 (18800 for the default gateway), so that two instances on one machine each keep their own port across restarts. When it is taken, the daemon says so, takes a free one and publishes it in AGENTS.md.",
    min: 0,
    max: 65535,
  },
  {
    key: 'serve.host',
    type: 'string',
    default: null,
    env: 'OIS_SERVE_HOST',
    flag: null,
    description:
      'Address the daemon listens on. Default: the host of `serve.url` when it is an IP address (your ZeroTier IP), else 127.0.0.1.',
  },
  {
    key: 'serve.url',
    type: 'url',
    default: null,
    env: 'OIS_SERVE_URL',
    flag: null,
    description:
      "The daemon's URL as peers reach it, published by `ois join`. Default: the host of `gateway.url` with `serve.port`.",
  },
  {
    key: 'serve.rateLimit',
    type: 'integer',
    default: 60,
    env: 'OIS_SERVE_RATE_LIMIT',
    flag: null,
    description: 'Messages a minute the daemon accepts from one sender (429 with Retry-After above it).',
    min: 1,
    max: 100_000,
  },
  {
    key: 'serve.skewSeconds',
    type: 'integer',
    default: 300,
    env: 'OIS_SERVE_SKEW_SECONDS',
    flag: null,
    description: "How far an envelope's createdAt may be from the daemon's clock, either way.",
    min: 5,
    max: 86_400,
  },
  {
    key: 'serve.presenceIntervalMs',
    type: 'integer',
    default: 15_000,
    env: 'OIS_PRESENCE_INTERVAL_MS',
    flag: null,
    description:
      "How often the daemon probes every peer (its daemon's /healthz, else its gateway's /health) for `ois agents` and to send queued messages when a peer comes back.",
    min: 200,
    max: 3_600_000,
  },
  {
    key: 'serve.requestTimeoutMs',
    type: 'integer',
    default: 10_000,
    env: 'OIS_SERVE_REQUEST_TIMEOUT_MS',
    flag: null,
    description:
      'How long the daemon waits for a whole request (headers and body) before it closes the connection (408), so a client sending slowly cannot hold it open.',
    min: 1000,
    max: 600_000,
  },
  {
    key: 'serve.maxConnectionsPerAddress',
    type: 'integer',
    default: 32,
    env: 'OIS_SERVE_MAX_CONNECTIONS_PER_ADDRESS',
    flag: null,
    description: 'Open connections the daemon accepts from one IP address at once; more are closed at once.',
    min: 1,
    max: 10_000,
  },
  {
    key: 'federation.maxHops',
    type: 'integer',
    default: 6,
    env: 'OIS_MAX_HOPS',
    flag: null,
    description:
      'How many automatic answers one conversation may go through (`ois reply`, waited replies, task updates) before daemons stop it: two assistants that answer every message cannot ping-pong forever.',
    min: 1,
    max: 64,
  },
  {
    key: 'federation.repliesPerMinute',
    type: 'integer',
    default: 10,
    env: 'OIS_REPLIES_PER_MINUTE',
    flag: null,
    description:
      '`ois reply` to one peer at most this many times a minute; more is refused (a loop, not a conversation).',
    min: 1,
    max: 600,
  },
  {
    key: 'notices.mute',
    type: 'string',
    default: null,
    env: 'OIS_NOTICES_MUTE',
    flag: null,
    description:
      'Notice types this instance does not put into its own session, comma-separated (e.g. `peer_offline,peer_online`); `ois notices` still lists them. Types: specs/membership.md.',
  },
  {
    key: 'notices.offlineAfterMs',
    type: 'integer',
    default: 120_000,
    env: 'OIS_NOTICES_OFFLINE_AFTER_MS',
    flag: null,
    description: "How long a peer's daemon must be unreachable before the daemon notes `peer_offline`.",
    min: 1000,
    max: 86_400_000,
  },
  {
    key: 'nats.nkey',
    type: 'path',
    default: null,
    env: 'OIS_NATS_NKEY',
    flag: null,
    description:
      "A team on NATS: the file holding this agent's NATS user seed (nkey), as `ois nats config` writes it. Keep it private.",
  },
  {
    key: 'nats.creds',
    type: 'path',
    default: null,
    env: 'OIS_NATS_CREDS',
    flag: null,
    description:
      'A team on NATS: a NATS credentials file (user JWT and seed), for servers run in operator mode.',
  },
  {
    key: 'nats.tlsCa',
    type: 'path',
    default: null,
    env: 'OIS_NATS_TLS_CA',
    flag: null,
    description:
      "A team on NATS: the CA certificate that signed the servers' TLS certificates (`tls://` servers).",
  },
  {
    key: 'nats.replicas',
    type: 'integer',
    default: 1,
    env: 'OIS_NATS_REPLICAS',
    flag: null,
    description:
      "A team on NATS: replicas of the team's streams and buckets when this instance creates them: 1 on one server, 3 on a three-node cluster.",
    min: 1,
    max: 5,
  },
] as const satisfies readonly SettingDeclaration[];

export type SettingKey = (typeof SETTINGS)[number]['key'];

/** Environment variables that are not settings but are read by OIS. */
export const OTHER_ENV = [
  {
    env: 'OIS_HOME',
    description: "This instance's home folder (config, secrets). Same as `--home`. Default `~/.ois`.",
  },
  {
    env: 'OIS_TOKEN_<NAME>',
    description:
      'Gateway token for the peer agent NAME (upper-cased, other characters as `_`). Wins over the secrets file.',
  },
] as const;

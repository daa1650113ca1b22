/**
 * Chinese descriptions for docs/zh/config.md. Each keeps the English description it was translated from, so
 * a test can tell a missing translation from a stale one (the English text changed since) and say which key.
 */
export interface Translation {
  readonly en: string;
  readonly zh: string;
}

/** Keyed by setting key (`SETTINGS[].key`). */
export const ZH_SETTINGS: Readonly<Record<string, Translation>> = {
  name: {
    en: "This instance's agent name in the team registry (set by `ois init --name`).",
    zh: '本实例在团队注册表中的智能体名称（由 `ois init --name` 设置）。',
  },
  team: {
    en: 'The team: a folder (holds AGENTS.md, chat/, shared/), or a NATS JetStream team `nats://HOST:4222[,HOST:4222…]/TEAM` (docs/scale.md). When unset, the nearest AGENTS.md walking up from the working directory.',
    zh: '团队：一个文件夹（存放 AGENTS.md、chat/、shared/），或一个 NATS JetStream 团队 `nats://HOST:4222[,HOST:4222…]/TEAM`（见 docs/scale.md）。未设置时，从工作目录逐级向上查找最近的 AGENTS.md。',
  },
  'gateway.url': {
    en: "This instance's own OpenClaw gateway, as peers should reach it (published by `ois join`).",
    zh: '本实例自己的 OpenClaw 网关地址，即对端访问它时使用的地址（由 `ois join` 发布）。',
  },
  'gateway.sessionKey': {
    en: 'The session on this gateway that messages from peers go into (published by `ois join`).',
    zh: '对端发来的消息投递到本网关上的哪个会话（由 `ois join` 发布）。',
  },
  'send.waitSessionKey': {
    en: 'The outer (calling) session key of a waited send (`ois send --wait`). The gateway refuses a waited send whose target is the calling session, so this is a dedicated key.',
    zh: '等待回复的发送（`ois send --wait`）所用的外层（调用方）会话 key。网关会拒绝目标就是调用方会话的等待发送，因此这里使用一个专用的 key。',
  },
  'send.connectTimeoutMs': {
    en: 'How long to wait for a TCP connection to a peer gateway.',
    zh: '与对端网关建立 TCP 连接的等待时间。',
  },
  'send.timeoutMs': {
    en: "How long to wait for a peer gateway's answer (a waited send adds its wait to this). Past it, a sent message is reported as delivery unknown.",
    zh: '等待对端网关应答的时间（等待回复的发送会在此基础上加上等待时长）。超时后，已发出的消息报告为投递状态未知。',
  },
  'send.retries': {
    en: 'Retries of a send that provably did not reach the peer (connection refused, DNS failure, 429/503).',
    zh: '对确定没有到达对端的发送（连接被拒绝、DNS 解析失败、429/503）的重试次数。',
  },
  'serve.port': {
    en: "Port of the daemon (`ois serve`). Default: the gateway's port + 11 (18800 for the default gateway), so that two instances on one machine each keep their own port across restarts. When it is taken, the daemon says so, takes a free one and publishes it in AGENTS.md.",
    zh: '守护进程（`ois serve`）的端口。默认：网关端口 + 11（默认网关为 18800），这样同一台机器上的两个实例各自的端口在重启后保持不变。端口被占用时，守护进程会明确提示，改用一个空闲端口并发布到 AGENTS.md。',
  },
  'serve.host': {
    en: 'Address the daemon listens on. Default: the host of `serve.url` when it is an IP address (your ZeroTier IP), else 127.0.0.1.',
    zh: '守护进程监听的地址。默认：`serve.url` 的主机部分为 IP 地址（即你的 ZeroTier IP）时用它，否则为 127.0.0.1。',
  },
  'serve.url': {
    en: "The daemon's URL as peers reach it, published by `ois join`. Default: the host of `gateway.url` with `serve.port`.",
    zh: '对端访问守护进程所用的 URL，由 `ois join` 发布。默认：`gateway.url` 的主机加上 `serve.port`。',
  },
  'serve.rateLimit': {
    en: 'Messages a minute the daemon accepts from one sender (429 with Retry-After above it).',
    zh: '守护进程每分钟从同一发送方接收的消息数上限（超出时返回 429 和 Retry-After）。',
  },
  'serve.skewSeconds': {
    en: "How far an envelope's createdAt may be from the daemon's clock, either way.",
    zh: '信封的 createdAt 与守护进程时钟之间允许的偏差（早晚均计）。',
  },
  'serve.presenceIntervalMs': {
    en: "How often the daemon probes every peer (its daemon's /healthz, else its gateway's /health) for `ois agents` and to send queued messages when a peer comes back.",
    zh: '守护进程探测各对端的间隔（优先探测对端守护进程的 /healthz，否则探测其网关的 /health），用于 `ois agents` 的在线状态，以及在对端恢复后发送排队的消息。',
  },
  'serve.requestTimeoutMs': {
    en: 'How long the daemon waits for a whole request (headers and body) before it closes the connection (408), so a client sending slowly cannot hold it open.',
    zh: '守护进程等待一个完整请求（请求头和请求体）的最长时间，超时即关闭连接（408），这样发送缓慢的客户端无法一直占住连接。',
  },
  'serve.maxConnectionsPerAddress': {
    en: 'Open connections the daemon accepts from one IP address at once; more are closed at once.',
    zh: '守护进程同时接受来自同一 IP 地址的连接数上限；超出的连接会被立即关闭。',
  },
  'federation.maxHops': {
    en: 'How many automatic answers one conversation may go through (`ois reply`, waited replies, task updates) before daemons stop it: two assistants that answer every message cannot ping-pong forever.',
    zh: '一个会话最多允许经过多少次自动应答（`ois reply`、等待回复、任务更新），超过后守护进程会终止它：两个对每条消息都作答的助手不会无休止地来回。',
  },
  'federation.repliesPerMinute': {
    en: '`ois reply` to one peer at most this many times a minute; more is refused (a loop, not a conversation).',
    zh: '每分钟对同一对端执行 `ois reply` 的次数上限；超出即被拒绝（那是循环，而不是对话）。',
  },
  'notices.mute': {
    en: 'Notice types this instance does not put into its own session, comma-separated (e.g. `peer_offline,peer_online`); `ois notices` still lists them. Types: specs/membership.md.',
    zh: '本实例不放入自身会话的通知类型，用逗号分隔（如 `peer_offline,peer_online`）；`ois notices` 仍会列出它们。类型见 specs/membership.md。',
  },
  'notices.offlineAfterMs': {
    en: "How long a peer's daemon must be unreachable before the daemon notes `peer_offline`.",
    zh: '对端守护进程需持续不可达多久，本守护进程才记下 `peer_offline`。',
  },
  'nats.nkey': {
    en: "A team on NATS: the file holding this agent's NATS user seed (nkey), as `ois nats config` writes it. Keep it private.",
    zh: 'NATS 上的团队：存放本智能体 NATS 用户种子（nkey）的文件，即 `ois nats config` 写出的文件。请妥善保密。',
  },
  'nats.creds': {
    en: 'A team on NATS: a NATS credentials file (user JWT and seed), for servers run in operator mode.',
    zh: 'NATS 上的团队：NATS 凭据文件（用户 JWT 与种子），用于以 operator 模式运行的服务器。',
  },
  'nats.tlsCa': {
    en: "A team on NATS: the CA certificate that signed the servers' TLS certificates (`tls://` servers).",
    zh: 'NATS 上的团队：签发服务器 TLS 证书的 CA 证书（用于 `tls://` 服务器）。',
  },
  'nats.replicas': {
    en: "A team on NATS: replicas of the team's streams and buckets when this instance creates them: 1 on one server, 3 on a three-node cluster.",
    zh: 'NATS 上的团队：由本实例创建团队的流和存储桶时使用的副本数：单台服务器为 1，三节点集群为 3。',
  },
};

/** Keyed by variable name (`OTHER_ENV[].env`). */
export const ZH_OTHER_ENV: Readonly<Record<string, Translation>> = {
  OIS_HOME: {
    en: "This instance's home folder (config, secrets). Same as `--home`. Default `~/.ois`.",
    zh: '本实例的主目录（配置、密钥）。与 `--home` 相同。默认 `~/.ois`。',
  },
  'OIS_TOKEN_<NAME>': {
    en: 'Gateway token for the peer agent NAME (upper-cased, other characters as `_`). Wins over the secrets file.',
    zh: '对端智能体 NAME 的网关令牌（NAME 转为大写，其他字符替换为 `_`）。优先于密钥文件。',
  },
};

/**
 * The Chinese description of an English one, or the English text marked as untranslated when the
 * translation is missing or was made from an older English text (tests/config.test.ts fails on either).
 */
export function zhDescription(table: Readonly<Record<string, Translation>>, id: string, en: string): string {
  const t = table[id];
  return t !== undefined && t.en === en ? t.zh : `（待翻译）${en}`;
}

/**
 * Whether a host name or address is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1. The one
 * check every room uses (the daemon's viewer login, the own-token lookup, the serve banner).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * 4 or 6 when `host` is an IPv4 or IPv6 address literal, else 0 (node:net's isIP, without loading node:net:
 * every \`ois\` run reads the config, and node:net costs it about 3 ms).
 */
export function ipVersion(host: string): 0 | 4 | 6 {
  const h = host.replace(/^\[|\]$/g, '');
  if (/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(h)) return 4;
  if (!h.includes(':') || !/^[0-9a-f:.]+$/i.test(h)) return 0;
  try {
    new URL(`http://[${h}]/`);
    return 6;
  } catch {
    return 0;
  }
}

/** The user's home folder: $HOME, else the OS's answer (node:os loaded only then). */
export function userHome(env: Readonly<Record<string, string | undefined>>): string {
  return env.HOME || process.getBuiltinModule('node:os').homedir();
}

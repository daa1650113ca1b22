/**
 * Whether a host name or address is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1. The one
 * check every room uses (the daemon's viewer login, the own-token lookup, the serve banner).
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export { checkInstance, SELF } from './instance.js';
export { checkGateway, type PeerCheckOptions, VERIFIED_OPENCLAW_VERSION } from './peer.js';
export { type DoctorOptions, type DoctorReport, runDoctor } from './run.js';
export type { Check, CheckStatus } from './types.js';
export { checkZerotier, type ZerotierCheckOptions } from './zerotier.js';

import { readFile } from 'node:fs/promises';
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import { OisError } from '../errors.js';

/**
 * How an instance proves who it is to the team's NATS servers (specs/nats.md, Permissions): a file, never
 * the secret itself, so that a seed is never on a command line, in the config or in a message.
 */
export interface NatsAuth {
  /** A user nkey seed (`SU…`), as `ois nats config` writes it to `<agent>.nk`. */
  nkeyFile?: string;
  /** A `.creds` file (user JWT and seed) for servers run with an operator (nsc). */
  credsFile?: string;
  /** The CA that signed the servers' TLS certificates, for a server with a private CA. */
  tlsCaFile?: string;
}

/** What an nkey seed file and a creds file look like (nats-io/nkeys, nsc): to tell a wrong file early. */
const USER_SEED = /^SU[A-Z2-7]{56}$/;
const CREDS_JWT = /-----BEGIN NATS USER JWT-----\s*\n\s*\S+\s*\n\s*-+END NATS USER JWT-+/;
const CREDS_SEED = /-----BEGIN USER NKEY SEED-----\s*\n\s*SU[A-Z2-7]{56}\s*\n\s*-+END USER NKEY SEED-+/;
const PEM = /-----BEGIN CERTIFICATE-----/;

/**
 * The connect options for `auth`: an nkey seed file becomes `nkeyAuthenticator`, a creds file
 * `credsAuthenticator`, a CA file `tls: { caFile }`. Each file is read and checked here, before connecting,
 * so that a missing or wrong file is `OIS_ERR_NATS_CREDENTIALS` naming the file, never a protocol error.
 * No message ever holds a seed or a line of the file.
 * @example await connectAuth({ nkeyFile: '/home/me/.ois/nats/alpha.nk' }) // { authenticator: [Function] }
 */
export async function connectAuth(auth: NatsAuth | undefined): Promise<Partial<NodeConnectionOptions>> {
  if (!auth) return {};
  if (auth.nkeyFile !== undefined && auth.credsFile !== undefined) {
    throw new OisError('OIS_ERR_USAGE', 'give either an nkey file or a creds file, not both', {
      hint: 'an nkey file for servers configured by ois nats config; a creds file for servers run with nsc',
    });
  }
  const out: Partial<NodeConnectionOptions> = {};
  if (auth.nkeyFile !== undefined || auth.credsFile !== undefined) {
    const { credsAuthenticator, nkeyAuthenticator } = await import('@nats-io/transport-node');
    if (auth.nkeyFile !== undefined) {
      const seed = (await readCredentialFile(auth.nkeyFile, 'nkey seed')).trim();
      if (!USER_SEED.test(seed)) {
        throw credentialsError(
          auth.nkeyFile,
          'is not an nkey user seed (one line starting with SU)',
          /BEGIN NATS USER JWT/.test(seed) ? 'this is a creds file: pass it with --creds' : undefined,
        );
      }
      out.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
    } else if (auth.credsFile !== undefined) {
      const creds = await readCredentialFile(auth.credsFile, 'creds');
      if (!CREDS_JWT.test(creds) || !CREDS_SEED.test(creds)) {
        throw credentialsError(
          auth.credsFile,
          'is not a NATS creds file (a user JWT and its nkey seed)',
          USER_SEED.test(creds.trim()) ? 'this is an nkey seed file: pass it with --nkey' : undefined,
        );
      }
      out.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
    }
  }
  if (auth.tlsCaFile !== undefined) {
    const ca = await readCredentialFile(auth.tlsCaFile, 'TLS CA');
    if (!PEM.test(ca)) throw credentialsError(auth.tlsCaFile, 'holds no PEM certificate');
    out.tls = { caFile: auth.tlsCaFile };
  }
  return out;
}

async function readCredentialFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const errno = (err as NodeJS.ErrnoException).code;
    throw new OisError(
      'OIS_ERR_NATS_CREDENTIALS',
      `cannot read the NATS ${what} file ${path}${errno ? ` (${errno})` : ''}`,
      {
        hint:
          errno === 'EACCES'
            ? 'run as the user that owns the file (it is kept at mode 0600)'
            : 'check the path given with --nkey, --creds or --tls-ca; ois nats config writes the nkey files',
        cause: err,
      },
    );
  }
}

function credentialsError(path: string, problem: string, hint?: string): OisError {
  return new OisError('OIS_ERR_NATS_CREDENTIALS', `the NATS credentials file ${path} ${problem}`, {
    hint: hint ?? 'pass the file ois nats config wrote for this agent (<agent>.nk), or an nsc .creds file',
  });
}

import { readSecrets, tokenEnvName, updateSecret } from '../../config/index.js';
import { OisError } from '../../errors.js';
import { editRegistry, findAgent, loadRegistry, redactTokensText } from '../../registry/index.js';
import type { Command } from '../command.js';
import { readStdinText } from '../io.js';

export const command: Command = {
  spec: {
    name: 'secrets',
    summary: "Keep peers' gateway tokens in this instance's private secrets file",
    usage: [
      'secrets set NAME (--token-env VAR | --token-stdin)',
      'secrets ls',
      'secrets rm NAME',
      'secrets import [--redact]',
    ],
    options: {
      'token-env': {
        type: 'string',
        value: 'VAR',
        description: 'Read the token from this environment variable',
      },
      'token-stdin': { type: 'boolean', description: 'Read the token from standard input' },
      redact: {
        type: 'boolean',
        description: 'With import: also replace the tokens in AGENTS.md by a placeholder',
      },
    },
    args: { min: 1, max: 2 },
    examples: [
      'printf %s "$BETA_TOKEN" | ois secrets set beta --token-stdin',
      'ois secrets set beta --token-env BETA_TOKEN',
      'ois secrets import --redact   # move plaintext tokens out of an OIS-era AGENTS.md',
    ],
  },
  async run(ctx) {
    const [sub, name] = ctx.args.positionals;
    const home = ctx.config().home;
    switch (sub) {
      case 'set': {
        if (!name)
          throw new OisError('OIS_ERR_USAGE', 'missing NAME', {
            hint: 'usage: ois secrets set NAME --token-stdin',
          });
        const token = await readToken(ctx.args.values, ctx.io);
        if (ctx.config().team !== null) {
          const registry = await loadRegistry(ctx.team());
          if (!findAgent(registry, name))
            ctx.warn(`no agent named "${name}" in ${registry.file} yet; stored anyway`);
        }
        const file = await updateSecret(home, name, token);
        if (ctx.json) ctx.printJson({ ok: true, name, file });
        else ctx.print(`stored the gateway token of ${name} in ${file} (${tokenEnvName(name)} overrides it)`);
        return;
      }
      case 'rm': {
        if (!name)
          throw new OisError('OIS_ERR_USAGE', 'missing NAME', { hint: 'usage: ois secrets rm NAME' });
        const had = name.toLowerCase() in (await readSecrets(home));
        const file = await updateSecret(home, name, null);
        if (ctx.json) ctx.printJson({ ok: true, name, removed: had, file });
        else ctx.print(had ? `removed the token of ${name} from ${file}` : `no token of ${name} in ${file}`);
        return;
      }
      case 'ls': {
        const names = Object.keys(await readSecrets(home)).sort();
        if (ctx.json) ctx.printJson({ names });
        else ctx.print(names.length > 0 ? names.join('\n') : 'no tokens stored');
        return;
      }
      case 'import': {
        const store = ctx.team();
        const registry = await loadRegistry(store);
        const found = registry.spans.filter((s) => s.token !== null);
        for (const span of found) await updateSecret(home, span.agent.name, span.token!.value);
        let redacted = false;
        if (ctx.args.values.redact && found.length > 0) {
          await editRegistry(store, (text, current) => redactTokensText(text, current));
          redacted = true;
        }
        const names = found.map((s) => s.agent.name);
        if (ctx.json) {
          ctx.printJson({ ok: true, imported: names, redacted });
          return;
        }
        if (names.length === 0) {
          ctx.print(`no plaintext tokens in ${registry.file}`);
          return;
        }
        ctx.print(`imported the tokens of ${names.join(', ')} into this instance's secrets`);
        if (redacted)
          ctx.print(
            `replaced them in ${registry.file}; rotate them on those gateways, they were readable by the whole team`,
          );
        else
          ctx.print(
            `they are still in ${registry.file}: run \`ois secrets import --redact\` once every sender has imported them`,
          );
        return;
      }
      default:
        throw new OisError('OIS_ERR_USAGE', `unknown subcommand "secrets ${sub}"`, {
          hint: 'usage: ois secrets set NAME --token-stdin | ls | rm NAME | import [--redact]',
        });
    }
  },
};

async function readToken(
  values: Record<string, unknown>,
  io: { env: Record<string, string | undefined>; stdin: NodeJS.ReadableStream },
): Promise<string> {
  const envName = values['token-env'] as string | undefined;
  const fromStdin = values['token-stdin'] === true;
  if ((envName === undefined) === !fromStdin) {
    throw new OisError('OIS_ERR_USAGE', 'give exactly one of --token-env VAR and --token-stdin', {
      hint: 'tokens are never taken as arguments: they would show in the shell history and process list',
    });
  }
  let token: string;
  if (envName !== undefined) {
    const value = io.env[envName];
    if (value === undefined)
      throw new OisError('OIS_ERR_USAGE', `the environment variable ${envName} is not set`);
    token = value.trim();
  } else {
    token = (await readStdinText(io.stdin as never, 'the token on standard input')).trim();
  }
  if (token === '' || /\s/.test(token)) {
    throw new OisError('OIS_ERR_USAGE', 'the token is empty or holds spaces', {
      hint: 'pass the gateway token alone',
    });
  }
  return token;
}

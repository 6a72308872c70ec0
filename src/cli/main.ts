/** The `edgeway` command: dispatches to one module per subcommand. */
import { checkCommand } from './check.js';
import { startCommand } from './start.js';
import { registerCommand } from './register.js';
import { servicesCommand } from './services.js';
import { demoCommand } from './demo.js';
import { tokenCommand } from './token.js';
import { keysCommand } from './keys.js';
import { clientsCommand } from './clients.js';
import { certsCommand } from './certs.js';
import { apiKeysCommand } from './apikeys.js';
import { CommandError, printMessage, UsageError } from './args.js';
import { packageVersion } from './version.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  start: { run: startCommand, summary: 'run the gateway' },
  check: { run: checkCommand, summary: 'validate config; exit 1 on any error' },
  demo: {
    run: demoCommand,
    summary: 'run the gateway with two demo upstreams and print curl lines',
  },
  register: { run: registerCommand, summary: 'register an instance and heartbeat until stopped' },
  services: {
    run: servicesCommand,
    summary: 'list services and instances with health, weight, in-flight and latency',
  },
  token: {
    run: tokenCommand,
    summary: 'issue a signed JWT (token issue) or revoke one everywhere (token revoke)',
  },
  keys: { run: keysCommand, summary: 'list or rotate the signing keys' },
  clients: {
    run: clientsCommand,
    summary: 'add, list or remove OAuth2 client-credentials clients',
  },
  certs: { run: certsCommand, summary: 'list the ACME certificates or renew them now' },
  apikeys: {
    run: apiKeysCommand,
    summary: 'issue, list or revoke API keys (x-api-key on routes with auth.apiKeys)',
  },
};

function help(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: edgeway <command> [options]\n       edgeway --version\n\nCommands:\n${lines.join('\n')}\n\nRun 'edgeway <command> --help' for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    process.stdout.write(`edgeway ${packageVersion()}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    printMessage(`unknown command "${name}"\n${help()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof CommandError) {
      printMessage(err.message);
      return err instanceof UsageError ? 2 : 1;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    printMessage((err as Error).stack ?? String(err));
    process.exitCode = 1;
  },
);

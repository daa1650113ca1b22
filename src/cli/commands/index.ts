import type { Command } from '../command.js';

/**
 * Every command, sorted by name, with a loader so that a run imports only the command it runs: an assistant
 * calls `ois` once per message, so start-up time is the cost users feel.
 */
export const COMMANDS: readonly { name: string; summary: string; load: () => Promise<Command> }[] = [
  {
    name: 'agents',
    summary: 'List the team, or show one agent',
    load: async () => (await import('./agents.js')).command,
  },
  {
    name: 'chat',
    summary: "Read the team's chat log",
    load: async () => (await import('./chat.js')).command,
  },
  {
    name: 'demo',
    summary: 'Try OIS on one machine: two instances, two gateway simulators, federated and queued messages',
    load: async () => (await import('./demo.js')).command,
  },
  {
    name: 'doctor',
    summary: 'Check this instance and why each peer is (not) reachable',
    load: async () => (await import('./doctor.js')).command,
  },
  {
    name: 'export',
    summary: 'Write the team (on NATS or a folder) as an OIS team folder: AGENTS.md, chat/*.md, shared/',
    load: async () => (await import('./transfer.js')).exportCommand,
  },
  {
    name: 'gateway-sim',
    summary: 'Run an OpenClaw gateway simulator (for trying OIS without OpenClaw)',
    load: async () => (await import('./gateway-sim.js')).command,
  },
  {
    name: 'import',
    summary: "Copy an OIS team folder into this instance's team (a team on NATS), nothing lost",
    load: async () => (await import('./transfer.js')).importCommand,
  },
  {
    name: 'init',
    summary: "Set up this instance's home: name, team folder (or NATS team), gateway",
    load: async () => (await import('./init.js')).command,
  },
  {
    name: 'join',
    summary: 'Ask to join the team (or found it), or update this agent in AGENTS.md',
    load: async () => (await import('./join.js')).command,
  },
  {
    name: 'keys',
    summary: "This instance's signing key: show it, or rotate it (approved by an admin, like a join)",
    load: async () => (await import('./keys.js')).command,
  },
  {
    name: 'leave',
    summary: 'Leave the team: this agent stops sending and receiving',
    load: async () => (await import('./leave.js')).command,
  },
  {
    name: 'members',
    summary: 'The team’s members: list, approve or reject join requests, disable, remove, promote',
    load: async () => (await import('./members.js')).command,
  },
  {
    name: 'memory',
    summary: 'Team memory: put, get, list, search, forget, history, recall for a prompt',
    load: async () => (await import('./memory.js')).command,
  },
  {
    name: 'nats',
    summary: 'The team on NATS: a server config with one user per agent, who may publish only as itself',
    load: async () => (await import('./nats.js')).command,
  },
  {
    name: 'net',
    summary: "The team's ZeroTier network: status, members, authorising newcomers",
    load: async () => (await import('./net.js')).command,
  },
  {
    name: 'notices',
    summary: 'Team notices: join requests, approvals, removals, peers going offline',
    load: async () => (await import('./notices.js')).command,
  },
  {
    name: 'outbox',
    summary: 'List, retry or drop the messages waiting for an offline peer',
    load: async () => (await import('./outbox.js')).command,
  },
  {
    name: 'reply',
    summary: 'Answer a message by its id: threaded to it, into its sender’s session',
    load: async () => (await import('./reply.js')).command,
  },
  {
    name: 'secrets',
    summary: "Keep peers' gateway tokens in this instance's private secrets file",
    load: async () => (await import('./secrets.js')).command,
  },
  {
    name: 'send',
    summary: 'Send a message to a peer agent by name',
    load: async () => (await import('./send.js')).command,
  },
  {
    name: 'serve',
    summary: "Run this instance's daemon: receives signed messages from peers",
    load: async () => (await import('./serve.js')).command,
  },
  {
    name: 'share',
    summary: "Put, get, list or remove files in the team folder's shared/",
    load: async () => (await import('./share.js')).command,
  },
  {
    name: 'skill',
    summary: 'The OIS skill: teach an assistant without the plugin to work in the team with ois',
    load: async () => (await import('./skill.js')).command,
  },
  {
    name: 'skills',
    summary: 'Team skills: publish an OpenClaw skill, list, show, install into a workspace, update',
    load: async () => (await import('./skills.js')).command,
  },
  {
    name: 'task',
    summary: 'Delegate tasks to peers and track them: send, update, list, show, cancel, wait',
    load: async () => (await import('./task.js')).command,
  },
];

// The CLI as a library: what the OpenClaw plugin runs in-process (bin/ois.js loads main.js itself).
export { main, openTeamFolder } from './main.js';

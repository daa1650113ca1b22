/**
 * The viewer's one page. No inline script or style (the Content-Security-Policy forbids both): behaviour
 * comes from /assets/viewer.js, looks from /assets/viewer.css.
 */
export const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OIS viewer</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/viewer.css">
<script src="/assets/viewer.js" defer></script>
</head>
<body>
<header>
  <h1>OIS <span id="me"></span></h1>
  <nav>
    <button type="button" data-tab="chat" class="active">Chat</button>
    <button type="button" data-tab="agents">Agents</button>
    <button type="button" data-tab="shared">Shared files</button>
    <button type="button" data-tab="outbox">Outbox</button>
    <button type="button" data-tab="compose">Compose</button>
    <button type="button" data-tab="tasks">Tasks</button>
    <button type="button" data-tab="memory">Memory</button>
    <button type="button" data-tab="skills">Skills</button>
    <button type="button" data-tab="notices">Notices <span id="notices-unread" class="badge" hidden></span></button>
  </nav>
  <span id="live" class="live off" title="live updates">offline</span>
</header>
<p id="status" role="status"></p>
<main>
  <section id="tab-chat" class="tab">
    <aside>
      <h2>Days</h2>
      <ul id="days"></ul>
    </aside>
    <div class="chat">
      <form id="search-form" class="toolbar">
        <input id="search-q" type="search" placeholder="Search all days" aria-label="search">
        <select id="agent-filter" aria-label="agent"><option value="">all agents</option></select>
        <button id="search-go" type="submit">Search</button>
        <button id="search-clear" type="button">Clear</button>
      </form>
      <h2 id="chat-title"></h2>
      <ol id="entries"></ol>
      <button id="more" type="button" hidden>Load more</button>
    </div>
  </section>
  <section id="tab-agents" class="tab" hidden>
    <table>
      <thead><tr><th>Name</th><th>Role</th><th>Status</th><th>Presence</th><th>Last seen</th><th>Delivery</th><th>ZeroTier</th><th>Capabilities</th></tr></thead>
      <tbody id="agents"></tbody>
    </table>
  </section>
  <section id="tab-shared" class="tab" hidden>
    <form id="upload-form" class="toolbar">
      <input id="upload-file" type="file" aria-label="file">
      <input id="upload-name" type="text" placeholder="name (optional)" aria-label="name">
      <label><input id="upload-overwrite" type="checkbox"> replace</label>
      <button id="upload-go" type="submit">Upload</button>
    </form>
    <table>
      <thead><tr><th>Name</th><th>Size</th><th>Uploaded</th><th>By</th><th>SHA-256</th><th></th></tr></thead>
      <tbody id="shared"></tbody>
    </table>
  </section>
  <section id="tab-outbox" class="tab" hidden>
    <h2>Waiting</h2>
    <table>
      <thead><tr><th>ID</th><th>Peer</th><th>State</th><th>Attempts</th><th>Created</th><th>Last error</th><th>Message</th><th></th></tr></thead>
      <tbody id="outbox-queued"></tbody>
    </table>
    <h2>Dead letters</h2>
    <table>
      <thead><tr><th>ID</th><th>Peer</th><th>State</th><th>Attempts</th><th>Created</th><th>Reason</th><th>Message</th><th></th></tr></thead>
      <tbody id="outbox-dead"></tbody>
    </table>
  </section>
  <section id="tab-tasks" class="tab" hidden>
    <p class="toolbar"><select id="tasks-agent" aria-label="agent"><option value="">all agents</option></select></p>
    <div id="board" class="board"></div>
    <div id="task-thread"></div>
  </section>
  <section id="tab-memory" class="tab" hidden>
    <form id="memory-form" class="toolbar">
      <input id="memory-q" type="search" placeholder="Search team memory" aria-label="search memory">
      <select id="memory-by" aria-label="author"><option value="">every author</option></select>
      <button id="memory-go" type="submit">Search</button>
    </form>
    <table>
      <thead><tr><th>Key</th><th>Value</th><th>Scope</th><th>By</th><th>When</th></tr></thead>
      <tbody id="memory"></tbody>
    </table>
    <div id="memory-history"></div>
  </section>
  <section id="tab-skills" class="tab" hidden>
    <table>
      <thead><tr><th>Name</th><th>Version</th><th>Publisher</th><th>Verified</th><th>Description</th></tr></thead>
      <tbody id="skills"></tbody>
    </table>
    <pre id="skill-show"></pre>
  </section>
  <section id="tab-notices" class="tab" hidden>
    <p class="toolbar"><label><input id="notices-all" type="checkbox"> include muted types</label></p>
    <ol id="notices"></ol>
  </section>
  <section id="tab-compose" class="tab" hidden>
    <form id="compose-form" class="compose">
      <label>To <input id="compose-to" type="text" placeholder="beta, gamma"></label>
      <label><input id="compose-all" type="checkbox"> everyone</label>
      <textarea id="compose-body" rows="6" placeholder="Message (Markdown)" aria-label="message"></textarea>
      <button id="compose-go" type="submit">Send</button>
    </form>
    <pre id="compose-result"></pre>
  </section>
</main>
</body>
</html>
`;

/** The login page, for a daemon that is not on loopback. `problem` is one of our own fixed strings. */
export function loginPage(problem: string): string {
  const safe = problem.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OIS viewer: log in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/viewer.css">
</head>
<body class="login">
<form method="post" action="/login">
  <h1>OIS viewer</h1>
  <p>This daemon is reachable from the network: give its viewer token.</p>
  <p class="problem">${safe}</p>
  <input name="token" type="password" autocomplete="current-password" aria-label="token" autofocus>
  <button type="submit">Log in</button>
</form>
</body>
</html>
`;
}

/** The viewer's style sheet, served as /assets/viewer.css. */
export const CSS = `
:root { color-scheme: light dark; --fg: #1d232a; --muted: #6a737d; --bg: #fff; --line: #d8dee4; --accent: #0b62d6; --soft: #f4f6f8; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #8d96a0; --bg: #0d1117; --line: #30363d; --accent: #4f9cf9; --soft: #161b22; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1rem; padding: .5rem 1rem; border-bottom: 1px solid var(--line); background: var(--soft); }
header h1 { font-size: 1.1rem; margin: 0; }
header h1 span { color: var(--muted); font-weight: normal; }
nav { display: flex; gap: .25rem; flex: 1; }
nav button { border: 1px solid transparent; background: none; color: var(--fg); padding: .3rem .7rem; border-radius: 6px; cursor: pointer; }
nav button.active { border-color: var(--line); background: var(--bg); font-weight: 600; }
.live { font-size: .8rem; padding: .1rem .5rem; border-radius: 999px; border: 1px solid var(--line); }
.live.on { color: #1a7f37; border-color: #1a7f37; }
.live.off { color: var(--muted); }
#status { margin: 0; padding: 0 1rem; min-height: 1.4em; color: var(--muted); }
main { padding: 0 1rem 2rem; }
.tab:not([hidden]) { display: block; }
#tab-chat:not([hidden]) { display: grid; grid-template-columns: 11rem 1fr; gap: 1rem; }
aside ul { list-style: none; margin: 0; padding: 0; max-height: 80vh; overflow: auto; }
aside li a { display: block; padding: .15rem .4rem; border-radius: 4px; color: var(--fg); text-decoration: none; }
aside li a.current { background: var(--accent); color: #fff; }
h2 { font-size: 1rem; margin: .8rem 0 .4rem; }
.toolbar { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .6rem 0; }
input, select, textarea, button { font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: .3rem .5rem; }
button { cursor: pointer; background: var(--soft); }
#search-q { flex: 1; min-width: 12rem; }
#entries { list-style: none; margin: 0; padding: 0; }
.entry { border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; margin: 0 0 .5rem; }
.entry.fresh { border-color: var(--accent); }
.entry .meta { display: flex; flex-wrap: wrap; gap: .5rem; color: var(--muted); font-size: .85rem; }
.entry .from { color: var(--fg); font-weight: 600; }
.entry .body p { margin: .35rem 0; }
.entry .body pre { background: var(--soft); padding: .5rem; border-radius: 6px; overflow: auto; }
.entry .body code { background: var(--soft); padding: 0 .2rem; border-radius: 3px; }
.outcome { padding: 0 .4rem; border-radius: 999px; border: 1px solid var(--line); }
.outcome.delivered, .outcome.replied { color: #1a7f37; }
.outcome.failed, .outcome.timeout { color: #cf222e; }
.outcome.queued, .outcome.unknown, .outcome.mixed, .outcome.no_reply { color: #9a6700; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; border-bottom: 1px solid var(--line); padding: .3rem .5rem; vertical-align: top; }
td.hash { font-family: ui-monospace, monospace; font-size: .8rem; }
.compose { display: grid; gap: .5rem; max-width: 40rem; }
.empty { color: var(--muted); }
.board { display: grid; grid-template-columns: repeat(5, minmax(9rem, 1fr)); gap: .5rem; }
.board .column { border: 1px solid var(--line); border-radius: 8px; padding: .4rem; min-height: 4rem; }
.board .column h3 { font-size: .85rem; margin: 0 0 .3rem; color: var(--muted); }
.board .card { border: 1px solid var(--line); border-radius: 6px; padding: .3rem .45rem; margin: 0 0 .35rem; cursor: pointer; background: var(--soft); }
.board .card .meta { color: var(--muted); font-size: .8rem; }
#task-thread li, #memory-history li { margin: .2rem 0; }
a.key { cursor: pointer; color: var(--accent); }
.badge { display: inline-block; min-width: 1.3em; padding: 0 .35rem; border-radius: 999px; background: #cf222e; color: #fff; font-size: .75rem; text-align: center; }
#notices { list-style: none; margin: 0; padding: 0; }
.notice { border-left: 3px solid var(--line); padding: .3rem .6rem; margin: 0 0 .4rem; }
.notice.unread { border-left-color: var(--accent); font-weight: 600; }
.notice .meta { color: var(--muted); font-size: .85rem; font-weight: normal; display: flex; gap: .5rem; }
body.login { display: grid; place-items: center; min-height: 100vh; }
body.login form { display: grid; gap: .6rem; width: 22rem; padding: 1.5rem; border: 1px solid var(--line); border-radius: 10px; }
body.login .problem { color: #cf222e; min-height: 1em; margin: 0; }
`;

import { renderMarkdown } from '../markdown.js';

/**
 * The viewer's script, served as /assets/viewer.js: plain DOM code, no build step. Message bodies go
 * through `renderMarkdown` (its source is embedded below, so the browser runs the tested function); every
 * other text goes in with `textContent`, never as HTML.
 */
const BODY = String.raw`
'use strict';
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var state = { day: null, next: null, who: '', searching: false, seen: new Set(), days: [] };

  function status(text) { $('status').textContent = text || ''; }

  // What the CLI would print: the code, the message (with file and line for AGENTS.md), the hint.
  function errorText(data, code) {
    if (!data || typeof data !== 'object' || !data.message) return 'HTTP ' + code;
    return (data.code ? data.code + ': ' : '') + data.message + (data.hint ? ' (hint: ' + data.hint + ')' : '');
  }
  function api(path, init) {
    init = init || {};
    var headers = Object.assign({ 'x-ois-viewer': '1' }, init.headers || {});
    return fetch(path, Object.assign({}, init, { headers: headers, credentials: 'same-origin' })).then(function (res) {
      if (res.status === 401) { location.href = '/login'; throw new Error('log in first'); }
      var type = res.headers.get('content-type') || '';
      var parsed = type.indexOf('application/json') >= 0 ? res.json() : res.text();
      return parsed.then(function (data) {
        if (!res.ok) throw new Error(errorText(data, res.status));
        return data;
      });
    });
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function localTime(iso) {
    var d = new Date(iso);
    return isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  function size(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }

  // --- tabs ---
  function showTab(name) {
    document.querySelectorAll('nav button').forEach(function (b) { b.classList.toggle('active', b.dataset.tab === name); });
    document.querySelectorAll('.tab').forEach(function (s) { s.hidden = s.id !== 'tab-' + name; });
    if (name === 'agents') loadAgents();
    if (name === 'shared') loadShared();
    if (name === 'outbox') loadOutbox();
    if (name === 'notices') loadNotices(true);
    if (name === 'tasks') loadTasks();
    if (name === 'memory') loadMemory();
    if (name === 'skills') loadSkills();
  }
  document.querySelectorAll('nav button').forEach(function (b) {
    b.addEventListener('click', function () { showTab(b.dataset.tab); });
  });

  // --- chat ---
  function involves(e, who) {
    if (!who) return true;
    var w = who.toLowerCase();
    return e.from.toLowerCase() === w || e.to.some(function (t) { return t.toLowerCase() === w; });
  }

  function entryNode(e) {
    var li = el('li', 'entry');
    li.dataset.id = e.id;
    var meta = el('div', 'meta');
    var time = el('time', '', localTime(e.at));
    time.dateTime = e.at;
    time.title = e.at;
    meta.appendChild(time);
    meta.appendChild(el('span', 'from', e.from));
    meta.appendChild(el('span', 'to', '\u2192 ' + (e.to.length ? e.to.join(', ') : '(nobody)')));
    if (e.kind === 'reply') meta.appendChild(el('span', 'kind', 'reply'));
    if (e.outcome) {
      var o = el('span', 'outcome ' + e.outcome.replace(/[^a-z_]/g, ''), e.outcome);
      o.title = e.summary || '';
      meta.appendChild(o);
    }
    if (e.torn) meta.appendChild(el('span', 'outcome failed', 'torn'));
    li.appendChild(meta);
    var body = el('div', 'body');
    // renderMarkdown escapes the whole body before it adds its own few tags.
    body.innerHTML = renderMarkdown(e.body);
    li.appendChild(body);
    return li;
  }

  function addEntries(list, fresh) {
    var ol = $('entries');
    var empty = ol.querySelector('.empty');
    if (empty && list.length) empty.remove();
    list.forEach(function (e) {
      if (state.seen.has(e.id)) return;
      state.seen.add(e.id);
      var node = entryNode(e);
      if (fresh) node.classList.add('fresh');
      ol.appendChild(node);
    });
  }

  function resetEntries(title) {
    $('entries').textContent = '';
    state.seen = new Set();
    state.next = null;
    $('more').hidden = true;
    $('chat-title').textContent = title;
  }

  function loadDays() {
    return api('/api/chat/days').then(function (data) {
      state.days = data.days;
      var ul = $('days');
      ul.textContent = '';
      data.days.forEach(function (d) {
        var li = el('li');
        var a = el('a', d === state.day && !state.searching ? 'current' : '', d);
        a.href = '#' + d;
        a.addEventListener('click', function (ev) { ev.preventDefault(); openDay(d); });
        li.appendChild(a);
        ul.appendChild(li);
      });
      if (!data.days.length) ul.appendChild(el('li', 'empty', 'no chat yet'));
      return data.days;
    });
  }

  function loadPage() {
    var q = '?limit=200' + (state.next ? '&cursor=' + encodeURIComponent(state.next) : '') +
      (state.who ? '&with=' + encodeURIComponent(state.who) : '');
    return api('/api/chat/day/' + state.day + q).then(function (data) {
      addEntries(data.entries, false);
      state.next = data.next;
      $('more').hidden = !data.next;
      if (!data.total) $('entries').appendChild(el('li', 'empty', 'no entries'));
    });
  }

  function openDay(day) {
    state.day = day;
    state.searching = false;
    resetEntries(day);
    document.querySelectorAll('#days a').forEach(function (a) { a.classList.toggle('current', a.textContent === day); });
    return loadPage().catch(function (err) { status(err.message); });
  }

  $('more').addEventListener('click', function () { loadPage().catch(function (err) { status(err.message); }); });

  function search() {
    var q = $('search-q').value.trim();
    if (!q) { openDay(state.day || today()); return; }
    state.searching = true;
    resetEntries('Search: ' + q);
    document.querySelectorAll('#days a').forEach(function (a) { a.classList.remove('current'); });
    var url = '/api/chat/search?q=' + encodeURIComponent(q) + (state.who ? '&with=' + encodeURIComponent(state.who) : '');
    api(url).then(function (data) {
      addEntries(data.entries, false);
      $('chat-title').textContent = 'Search: ' + q + ' (' + data.total + (data.truncated ? ', newest shown' : '') + ')';
      if (!data.total) $('entries').appendChild(el('li', 'empty', 'nothing found'));
    }).catch(function (err) { status(err.message); });
  }

  $('search-form').addEventListener('submit', function (ev) { ev.preventDefault(); status(''); search(); });
  $('search-clear').addEventListener('click', function () { $('search-q').value = ''; openDay(state.day || today()); });
  $('agent-filter').addEventListener('change', function () {
    state.who = $('agent-filter').value;
    if (state.searching) search(); else openDay(state.day || today());
  });

  function today() { return new Date().toISOString().slice(0, 10); }

  // --- live feed ---
  var source = null;
  function connect() {
    source = new EventSource('/api/events');
    source.addEventListener('open', function () {
      $('live').textContent = 'live';
      $('live').className = 'live on';
    });
    source.addEventListener('error', function () {
      $('live').textContent = 'reconnecting';
      $('live').className = 'live off';
    });
    source.addEventListener('notices', function (ev) {
      var n = JSON.parse(ev.data);
      showUnread(n.unread);
      if (!$('tab-notices').hidden) loadNotices(true);
    });
    source.addEventListener('entry', function (ev) {
      var e = JSON.parse(ev.data);
      var day = e.at.slice(0, 10);
      if (state.days.indexOf(day) < 0) loadDays();
      if (!state.searching && state.day === day && involves(e, state.who) && !state.next) addEntries([e], true);
      // A task or a change of one: the board follows, live.
      if ((e.kind === 'task' || e.kind === 'task_update') && !$('tab-tasks').hidden) loadTasks();
    });
  }

  // --- tasks ---
  var COLUMNS = [['submitted', ['submitted']], ['working', ['working']], ['input required', ['input_required']],
    ['completed', ['completed']], ['ended', ['failed', 'canceled', 'rejected']]];
  function loadTasks() {
    var who = $('tasks-agent').value;
    return api('/api/tasks' + (who ? '?agent=' + encodeURIComponent(who) : '')).then(function (data) {
      var board = $('board');
      board.textContent = '';
      COLUMNS.forEach(function (c) {
        var col = el('div', 'column');
        col.dataset.status = c[0];
        col.appendChild(el('h3', '', c[0]));
        data.tasks.filter(function (t) { return c[1].indexOf(t.status) >= 0; }).forEach(function (t) {
          var card = el('div', 'card');
          card.dataset.id = t.id;
          card.appendChild(el('div', 'text', t.text.split('\n')[0]));
          card.appendChild(el('div', 'meta', t.from + ' \u2192 ' + t.to + ' \u00b7 ' + t.status + ' \u00b7 ' + t.priority));
          card.addEventListener('click', function () { showTask(t.id); });
          col.appendChild(card);
        });
        board.appendChild(col);
      });
    }).catch(function (err) { status(err.message); });
  }
  function showTask(id) {
    return api('/api/tasks/' + encodeURIComponent(id)).then(function (data) {
      var box = $('task-thread');
      box.textContent = '';
      box.appendChild(el('h2', '', data.task.from + ' \u2192 ' + data.task.to + ': ' + data.task.text.split('\n')[0]));
      var ol = el('ol');
      ol.appendChild(el('li', '', localTime(data.task.createdAt) + ' \u00b7 ' + data.task.from + ' \u00b7 submitted'));
      data.events.forEach(function (e) { ol.appendChild(el('li', '', localTime(e.at) + ' \u00b7 ' + e.by + ' \u00b7 ' + e.status + (e.note ? ': ' + e.note : ''))); });
      box.appendChild(ol);
    }).catch(function (err) { status(err.message); });
  }
  $('tasks-agent').addEventListener('change', loadTasks);

  // --- memory ---
  function loadMemory() {
    var q = $('memory-q').value.trim();
    var by = $('memory-by').value;
    var qs = [];
    if (q) qs.push('q=' + encodeURIComponent(q));
    if (by) qs.push('by=' + encodeURIComponent(by));
    return api('/api/memory' + (qs.length ? '?' + qs.join('&') : '')).then(function (data) {
      var body = $('memory');
      body.textContent = '';
      if (!data.entries.length) { var tr0 = el('tr'); tr0.appendChild(el('td', 'empty', q ? 'no matches' : 'no entries')); body.appendChild(tr0); }
      data.entries.forEach(function (e) {
        var tr = el('tr');
        var td = el('td');
        var a = el('a', 'key', e.key);
        a.addEventListener('click', function () { showHistory(e.key); });
        td.appendChild(a);
        tr.appendChild(td);
        [e.value, e.scope, e.author, localTime(e.at)].forEach(function (v) { tr.appendChild(el('td', '', v)); });
        body.appendChild(tr);
      });
    }).catch(function (err) { status(err.message); });
  }
  function showHistory(key) {
    return api('/api/memory/history?key=' + encodeURIComponent(key)).then(function (data) {
      var box = $('memory-history');
      box.textContent = '';
      box.appendChild(el('h2', '', data.key + ' (owned by ' + data.owner + ')'));
      var ol = el('ol');
      data.versions.forEach(function (v) { ol.appendChild(el('li', '', localTime(v.at) + ' \u00b7 ' + v.author + ' \u00b7 ' + v.op + (v.value !== undefined ? ': ' + v.value : ''))); });
      box.appendChild(ol);
    }).catch(function (err) { status(err.message); });
  }
  $('memory-form').addEventListener('submit', function (ev) { ev.preventDefault(); loadMemory(); });
  $('memory-by').addEventListener('change', loadMemory);

  // --- skills ---
  function loadSkills() {
    return api('/api/skills').then(function (data) {
      var body = $('skills');
      body.textContent = '';
      if (!data.skills.length) { var tr0 = el('tr'); tr0.appendChild(el('td', 'empty', 'no team skills yet: ois skills publish DIR')); body.appendChild(tr0); }
      data.skills.forEach(function (s) {
        var tr = el('tr');
        var td = el('td');
        var a = el('a', 'key', s.name);
        a.addEventListener('click', function () {
          api('/api/skills/' + encodeURIComponent(s.name)).then(function (d) {
            $('skill-show').textContent = d.manifest.name + ' ' + d.manifest.version + ', published by ' + d.manifest.publisher + ' (verified)\n\n' + d.skill;
          }).catch(function (err) { status(err.message); });
        });
        td.appendChild(a);
        tr.appendChild(td);
        [s.version, s.publisher, s.verified ? 'yes' : 'no: ' + s.problem, s.description].forEach(function (v) { tr.appendChild(el('td', '', v)); });
        body.appendChild(tr);
      });
    }).catch(function (err) { status(err.message); });
  }

  // --- notices ---
  function showUnread(n) {
    var b = $('notices-unread');
    b.textContent = n > 0 ? String(n) : '';
    b.hidden = !(n > 0);
  }
  function loadNotices(markRead) {
    return api('/api/notices' + ($('notices-all').checked ? '?all=1' : '')).then(function (data) {
      var list = $('notices');
      list.textContent = '';
      if (!data.notices.length) list.appendChild(el('li', 'empty', 'no notices in the last 7 days'));
      data.notices.slice().reverse().forEach(function (n) {
        var li = el('li', 'notice' + (n.unread ? ' unread' : ''));
        li.dataset.type = n.type;
        var meta = el('div', 'meta');
        meta.appendChild(el('span', 'type', n.type));
        meta.appendChild(el('span', '', localTime(n.at)));
        meta.appendChild(el('span', '', n.source === 'local' ? 'this daemon' : 'by ' + n.by));
        li.appendChild(meta);
        li.appendChild(el('div', 'text', n.body));
        list.appendChild(li);
      });
      showUnread(data.unread);
      var last = data.notices.length ? data.notices[data.notices.length - 1].at : null;
      if (markRead && last && data.unread > 0) {
        return api('/api/notices/read', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ until: last }) })
          .then(function (r) { showUnread(r.unread); });
      }
    }).catch(function (err) { status(err.message); });
  }
  $('notices-all').addEventListener('change', function () { loadNotices(false); });

  // --- agents ---
  function loadAgents() {
    return api('/api/agents').then(function (data) {
      var body = $('agents');
      body.textContent = '';
      var select = $('agent-filter');
      var chosen = select.value;
      select.textContent = '';
      select.appendChild(new Option('all agents', ''));
      data.agents.forEach(function (a) {
        var tr = el('tr');
        [a.name + (a.self ? ' (this instance)' : ''), a.role, a.status, a.self ? 'self' : a.presence,
          a.lastSeen ? localTime(a.lastSeen) : '', a.delivery, a.zerotier || '', a.capabilities.join(', ')]
          .forEach(function (v) { tr.appendChild(el('td', '', v)); });
        body.appendChild(tr);
        select.appendChild(new Option(a.name, a.name));
      });
      select.value = chosen;
      ['tasks-agent', 'memory-by'].forEach(function (id) {
        var s2 = $(id);
        var keep = s2.value;
        s2.textContent = '';
        s2.appendChild(new Option(id === 'tasks-agent' ? 'all agents' : 'every author', ''));
        data.agents.forEach(function (a) { s2.appendChild(new Option(a.name, a.name)); });
        s2.value = keep;
      });
    }).catch(function (err) { status(err.message); });
  }

  // --- shared files ---
  function loadShared() {
    return api('/api/shared').then(function (data) {
      var body = $('shared');
      body.textContent = '';
      if (!data.files.length) {
        var tr0 = el('tr');
        var td0 = el('td', 'empty', 'no shared files');
        td0.colSpan = 6;
        tr0.appendChild(td0);
        body.appendChild(tr0);
      }
      data.files.forEach(function (f) {
        var tr = el('tr');
        var name = el('td');
        var a = el('a', 'download', f.name);
        a.href = '/api/shared/' + encodeURIComponent(f.name);
        a.setAttribute('download', f.name);
        name.appendChild(a);
        tr.appendChild(name);
        tr.appendChild(el('td', '', size(f.size)));
        tr.appendChild(el('td', '', localTime(f.uploadedAt)));
        tr.appendChild(el('td', '', f.uploader || ''));
        var hash = el('td', 'hash', f.sha256 ? f.sha256.slice(0, 12) : '');
        hash.title = f.sha256 || '';
        tr.appendChild(hash);
        var act = el('td');
        var rm = el('button', 'remove', 'Delete');
        rm.type = 'button';
        rm.addEventListener('click', function () {
          if (!confirm('Delete shared/' + f.name + '?')) return;
          api('/api/shared/' + encodeURIComponent(f.name), { method: 'DELETE' })
            .then(loadShared).catch(function (err) { status(err.message); });
        });
        act.appendChild(rm);
        tr.appendChild(act);
        body.appendChild(tr);
      });
    }).catch(function (err) { status(err.message); });
  }

  $('upload-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    status('');
    var file = $('upload-file').files[0];
    if (!file) { status('choose a file first'); return; }
    var name = $('upload-name').value.trim() || file.name;
    var url = '/api/shared/' + encodeURIComponent(name) + ($('upload-overwrite').checked ? '?overwrite=1' : '');
    api(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: file })
      .then(function () { $('upload-form').reset(); status('uploaded ' + name); return loadShared(); })
      .catch(function (err) { status(err.message); });
  });

  // --- outbox ---
  function outboxRows(target, list, dead) {
    var body = $(target);
    body.textContent = '';
    if (!list.length) {
      var tr0 = el('tr');
      var td0 = el('td', 'empty', dead ? 'no dead letters' : 'nothing waits');
      td0.colSpan = 8;
      tr0.appendChild(td0);
      body.appendChild(tr0);
    }
    list.forEach(function (m) {
      var tr = el('tr');
      [m.id, m.peer, m.state, m.attempts, localTime(new Date(m.createdAt).toISOString()),
        dead ? (m.deadReason || '') : (m.lastError || ''), m.preview]
        .forEach(function (v) { tr.appendChild(el('td', '', v)); });
      var act = el('td');
      ['retry', 'drop'].forEach(function (what) {
        var b = el('button', what, what === 'retry' ? 'Retry' : 'Drop');
        b.type = 'button';
        b.addEventListener('click', function () {
          api('/api/outbox/' + encodeURIComponent(m.id) + '/' + what, { method: 'POST' })
            .then(loadOutbox).catch(function (err) { status(err.message); });
        });
        act.appendChild(b);
      });
      tr.appendChild(act);
      body.appendChild(tr);
    });
  }

  function loadOutbox() {
    return api('/api/outbox').then(function (data) {
      outboxRows('outbox-queued', data.queued, false);
      outboxRows('outbox-dead', data.dead, true);
    }).catch(function (err) { status(err.message); });
  }

  // --- compose ---
  $('compose-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    status('');
    var all = $('compose-all').checked;
    var to = all ? 'all' : $('compose-to').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    var body = $('compose-body').value;
    if (!all && !to.length) { status('say who gets it'); return; }
    if (!body.trim()) { status('write a message'); return; }
    $('compose-go').disabled = true;
    api('/api/send', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: to, body: body }) })
      .then(function (result) { $('compose-result').textContent = JSON.stringify(result.result, null, 2); $('compose-body').value = ''; })
      .catch(function (err) { status(err.message); })
      .finally(function () { $('compose-go').disabled = false; });
  });

  // --- start ---
  api('/api/me').then(function (me) { $('me').textContent = me.name; document.title = 'OIS: ' + me.name; })
    .catch(function (err) { status(err.message); });
  loadAgents();
  loadNotices(false);
  loadDays().then(function (days) {
    var t = today();
    return openDay(days.indexOf(t) >= 0 || !days.length ? t : days[0]);
  }).catch(function (err) { status(err.message); });
  connect();
})();
`;

export const JS = `const renderMarkdown = ${renderMarkdown.toString()};\n${BODY}`;

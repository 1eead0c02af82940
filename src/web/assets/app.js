// The web view's pages: every page of docs/ui.md drawn from its JSON under window.VREPO.api.
// One file, no framework and nothing loaded from elsewhere. Every page is a full page load, so
// the URL (path and query) is the whole state of a page; the DOM is built with textContent
// only, never from HTML strings, so no name or label from a repository can inject markup.
'use strict';

(function () {
  var V = window.VREPO || {};
  var BASE = String(V.base || '').replace(/\/+$/, '');
  var API = String(V.api || BASE + '/api').replace(/\/+$/, '');
  var CAN_WRITE = !!V.can_write;
  var SVG_NS = 'http://www.w3.org/2000/svg';
  var app;

  // ---- DOM helpers -------------------------------------------------------------------------

  // h('a', {href: x, class: 'y'}, child, ...): an element; children are nodes, strings,
  // numbers or arrays of them; null and undefined are skipped.
  function h(tag, attrs) {
    var el = document.createElement(tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function svg(tag, attrs) {
    var el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }

  function setAttrs(el, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key.slice(0, 2) === 'on' && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    });
  }

  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { append(el, c); });
    } else if (child instanceof Node) {
      el.appendChild(child);
    } else {
      el.appendChild(document.createTextNode(String(child)));
    }
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }

  // ---- URLs and the API ----------------------------------------------------------------------

  // A revision or path inside a URL path: '/' stays readable, everything else is escaped.
  function enc(part) {
    return encodeURIComponent(part).replace(/%2F/g, '/');
  }

  function query(params) {
    var q = new URLSearchParams();
    Object.keys(params).forEach(function (key) {
      var value = params[key];
      if (value !== null && value !== undefined && value !== '') q.set(key, value);
    });
    var text = q.toString();
    return text ? '?' + text : '';
  }

  function page(path, params) {
    return BASE + path + query(params || {});
  }

  function loginUrl() {
    return '/ui/login' + query({next: location.pathname + location.search});
  }

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  // The JSON answer of `path` (below API), or an ApiError with the server's one-line message.
  function api(path, options) {
    options = options || {};
    var init = {credentials: 'same-origin', headers: {Accept: 'application/json'}};
    if (options.body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    var url = (options.root || API) + path;
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        if (!response.ok) {
          var message = data && data.error ? data.error : response.status + ' ' + response.statusText;
          throw new ApiError(response.status, message);
        }
        if (data === null) throw new ApiError(response.status, url + ': the answer is not JSON');
        return data;
      });
    });
  }

  // ---- Formatting ------------------------------------------------------------------------------

  function short(id) {
    return id ? String(id).slice(0, 12) : '';
  }

  function two(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function formatTime(seconds) {
    if (!seconds) return '';
    var d = new Date(seconds * 1000);
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' +
        two(d.getHours()) + ':' + two(d.getMinutes());
  }

  function formatNumber(value) {
    if (value === null || value === undefined || value === '') return '';
    if (typeof value !== 'number') return String(value);
    if (Number.isInteger(value)) return String(value);
    var abs = Math.abs(value);
    if (abs !== 0 && (abs < 0.001 || abs >= 1e6)) return value.toExponential(3);
    return String(Number(value.toPrecision(4)));
  }

  function formatSize(bytes) {
    if (bytes === undefined || bytes === null) return '';
    if (bytes < 1024) return bytes + ' B';
    if (bytes < 1024 * 1024) return (bytes / 1024).toFixed(1) + ' KiB';
    return (bytes / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function lowerIsBetter(metric) {
    return /loss|error/.test(metric) || metric === 'seconds';
  }

  // ---- Shared pieces ---------------------------------------------------------------------------

  var ERROR_TITLES = {400: 'Bad request', 401: 'Not logged in', 403: 'Not allowed', 404: 'Not found',
                      409: 'Conflict', 500: 'Server error'};

  function showError(message, status) {
    clear(app);
    append(app, h('h1', {class: 'error-title'}, ERROR_TITLES[status] || 'Error'));
    var box = h('div', {id: 'error', class: 'error', role: 'alert', 'data-status': status || ''}, message);
    if (status === 401 && V.mode === 'serve') {
      append(box, [' ', h('a', {href: loginUrl(), id: 'login-link'}, 'Log in')]);
    }
    append(app, box);
    document.title = 'Error · vrepo';
  }

  function fail(error) {
    if (error instanceof ApiError) {
      if (error.status === 401 && V.mode === 'serve') {
        location.href = loginUrl();
        return;
      }
      showError(error.message, error.status);
    } else {
      showError('The page could not be drawn: ' + (error && error.message ? error.message : error));
    }
  }

  function title(text, sub) {
    document.title = text + ' · vrepo';
    return h('h1', null, text, sub ? h('span', {class: 'sub'}, ' ', sub) : null);
  }

  function commitLink(id, text) {
    return h('a', {href: page('/commit/' + enc(id)), class: 'commit-link mono'}, text || short(id));
  }

  function thumb(id, alt) {
    return h('img', {
      class: 'thumb',
      src: API + '/thumb/' + enc(id),
      alt: alt || '',
      loading: 'lazy',
      width: 96,
      height: 96
    });
  }

  // A sample's card: its thumbnail, its path and `lines` (label text), and when `edit` is given
  // ({table, labels, current}) and the session may write, a label <select> that stages a fix.
  function sampleCard(sample, lines, edit) {
    var attrs = {class: 'card', 'data-path': sample.path, 'data-id': sample.id || ''};
    if (sample.label !== undefined) attrs['data-label'] = sample.label;
    var card = h('div', attrs,
                 h('div', {class: 'thumb-box'}, sample.id ? thumb(sample.id, sample.path) : null),
                 h('div', {class: 'path', title: sample.path}, sample.path), lines);
    if (edit && CAN_WRITE) append(card, labelSelect(edit.table, sample, edit.labels));
    return card;
  }

  function labelLine(text, cls) {
    return h('div', {class: 'label ' + (cls || '')}, text);
  }

  function relabelLine(oldLabel, newLabel) {
    return h('div', {class: 'label relabel'}, h('span', {class: 'old'}, oldLabel), ' → ',
             h('span', {class: 'new'}, newLabel));
  }

  function section(id, heading, count, body) {
    return h('section', {id: id}, h('h2', null, heading,
                                     count !== undefined ? h('span', {class: 'count'}, ' ' + count) : null),
             body);
  }

  function grid(cards, emptyText) {
    if (!cards.length) return h('p', {class: 'muted empty'}, emptyText || 'None.');
    return h('div', {class: 'grid'}, cards);
  }

  function table(headers, rows, attrs) {
    return h('table', attrs || null,
             h('thead', null, h('tr', null, headers.map(function (text) { return h('th', null, text); }))),
             h('tbody', null, rows));
  }

  // ---- Staged label edits (write sessions) -----------------------------------------------------

  var staged = {edits: []};

  function stagedLabel(tableName, path) {
    for (var i = 0; i < staged.edits.length; i++) {
      var edit = staged.edits[i];
      if (edit.table === tableName && edit.path === path) return edit.new;
    }
    return null;
  }

  function labelSelect(tableName, sample, labels) {
    var current = stagedLabel(tableName, sample.path);
    var value = current !== null ? current : sample.label;
    var options = labels.slice();
    if (options.indexOf(sample.label) < 0) options.unshift(sample.label);
    var select = h('select', {
      class: 'label-select',
      'data-table': tableName,
      'data-path': sample.path,
      'aria-label': 'Label of ' + sample.path
    }, options.map(function (label) {
      return h('option', {value: label, selected: label === value}, label);
    }));
    select.addEventListener('change', function () {
      // The label the sample has at the branch tip: the card's, updated after each commit.
      var card = select.closest('.card');
      var committed = card ? card.getAttribute('data-label') : sample.label;
      var body = select.value === committed
          ? {path: '/unstage', body: {table: tableName, path: sample.path}}
          : {path: '/stage', body: {table: tableName, path: sample.path, label: select.value}};
      select.disabled = true;
      api(body.path, {body: body.body}).then(function (answer) {
        select.disabled = false;
        updateStaged(answer);
      }, function (error) {
        select.disabled = false;
        var now = stagedLabel(tableName, sample.path);
        select.value = now !== null ? now : committed;
        stageError(error.message || String(error));
      });
    });
    return select;
  }

  function updateStaged(answer) {
    staged = answer && answer.edits ? answer : {edits: []};
    document.querySelectorAll('.card').forEach(function (card) {
      var select = card.querySelector('.label-select');
      if (!select) return;
      card.classList.toggle('staged',
                            stagedLabel(select.getAttribute('data-table'), card.getAttribute('data-path')) !== null);
    });
    drawStageBar(null);
  }

  function stageError(message) {
    drawStageBar(h('span', {id: 'stage-error', class: 'stage-error'}, message));
  }

  function drawStageBar(note) {
    var bar = document.getElementById('stagebar');
    if (!bar) return;
    clear(bar);
    var edits = staged.edits || [];
    if (!edits.length && !note) {
      bar.hidden = true;
      return;
    }
    bar.hidden = false;
    if (edits.length) {
      var list = h('ul', {id: 'stage-list'}, edits.map(function (edit) {
        return h('li', {'data-path': edit.path, 'data-table': edit.table},
                 h('span', {class: 'mono'}, edit.path), ' ', h('span', {class: 'old'}, edit.old), ' → ',
                 h('span', {class: 'new'}, edit.new), ' ',
                 h('button', {
                   class: 'unstage',
                   type: 'button',
                   title: 'Drop this edit',
                   onclick: function () {
                     api('/unstage', {body: {table: edit.table, path: edit.path}}).then(function (answer) {
                       updateStaged(answer);
                       redrawSelects();
                     }, function (error) { stageError(error.message); });
                   }
                 }, '×'));
      }));
      var message = h('input', {
        id: 'stage-message',
        type: 'text',
        placeholder: 'Commit message',
        size: 50,
        'aria-label': 'Commit message'
      });
      var button = h('button', {id: 'stage-commit', type: 'button'}, 'Commit');
      button.addEventListener('click', function () {
        if (!message.value.trim()) {
          stageError('Write a commit message first.');
          return;
        }
        button.disabled = true;
        api('/commit', {body: {message: message.value}}).then(function (answer) {
          // The committed labels are now the samples' labels.
          edits.forEach(function (edit) {
            document.querySelectorAll('.card').forEach(function (card) {
              var select = card.querySelector('.label-select');
              if (select && card.getAttribute('data-path') === edit.path &&
                  select.getAttribute('data-table') === edit.table) {
                card.setAttribute('data-label', edit.new);
              }
            });
          });
          staged = {edits: []};
          drawStageBar(h('span', {id: 'stage-result'}, 'Committed ', commitLink(answer.commit), '.'));
          redrawSelects();
        }, function (error) {
          button.disabled = false;
          stageError(error.message);
        });
      });
      append(bar, [
        h('strong', {id: 'stage-count', 'data-count': edits.length},
          edits.length + (edits.length === 1 ? ' staged label edit' : ' staged label edits')),
        h('span', {class: 'muted'}, ' on ' + (staged.branch || 'the branch')),
        list, h('div', {class: 'stage-actions'}, message, ' ', button)
      ]);
    }
    if (note) append(bar, h('div', {class: 'stage-note'}, note));
  }

  // After a commit or an unstage the selects show the label each sample has now.
  function redrawSelects() {
    document.querySelectorAll('.card').forEach(function (card) {
      var select = card.querySelector('.label-select');
      if (!select) return;
      var label = stagedLabel(select.getAttribute('data-table'), card.getAttribute('data-path'));
      if (label === null) label = card.getAttribute('data-label');
      select.value = label;
      card.classList.toggle('staged', false);
    });
  }

  function loadStaged() {
    if (!CAN_WRITE || !V.repo && V.mode === 'serve') return Promise.resolve();
    return api('/staged').then(function (answer) {
      staged = answer && answer.edits ? answer : {edits: []};
      drawStageBar(null);
    }, function () {
      staged = {edits: []};
    });
  }

  // ---- Pages -----------------------------------------------------------------------------------

  function homePage() {
    return api('/').then(function (data) {
      var head = data.head || {};
      var branch = head.branch || 'HEAD';
      var headline = [h('span', {class: 'muted'}, 'on '), h('strong', {id: 'head-branch'}, branch)];
      if (head.commit) headline.push(' at ', commitLink(head.commit));
      var quick = h('p', {class: 'quick'},
                    head.commit ? h('a', {id: 'dataset-link', href: page('/dataset/' + enc(branch))}, 'Browse the dataset') : null,
                    head.commit ? ' · ' : null,
                    h('a', {href: page('/runs')}, 'Runs table'));
      var branches = table(['Branch', 'Commit'], (data.branches || []).map(function (b) {
        return h('tr', {'data-name': b.name},
                 h('td', null, h('a', {href: page('/dataset/' + enc(b.name))}, b.name)),
                 h('td', null, commitLink(b.commit)));
      }), {id: 'branches'});
      var tags = (data.tags || []).length
          ? table(['Tag', 'Commit'], data.tags.map(function (t) {
            return h('tr', {'data-name': t.name},
                     h('td', null, h('a', {href: page('/dataset/' + enc(t.name))}, t.name)),
                     h('td', null, commitLink(t.commit)));
          }), {id: 'tags'})
          : h('p', {id: 'tags', class: 'muted'}, 'No tags.');
      var commits = table(['Commit', 'Subject', 'Author', 'Time'], (data.commits || []).map(function (c) {
        return h('tr', {'data-id': c.id},
                 h('td', null, commitLink(c.id)),
                 h('td', null, h('a', {href: page('/commit/' + enc(c.id))}, c.subject)),
                 h('td', null, c.author), h('td', {class: 'time'}, formatTime(c.time)));
      }), {id: 'commits', class: 'wide'});
      var runs = (data.runs || []).length
          ? table(['Run', 'Kind', 'Status', 'What', 'Time'], data.runs.map(function (r) {
            var id = r.name || r.commit;
            return h('tr', {'data-run': id},
                     h('td', null, h('a', {href: page('/runs/' + enc(id))}, r.name || short(r.commit))),
                     h('td', null, r.kind), h('td', null, statusBadge(r.status)),
                     h('td', {class: 'what'}, r.what), h('td', {class: 'time'}, formatTime(r.time)));
          }), {id: 'runs', class: 'wide'})
          : h('p', {id: 'runs', class: 'muted'}, 'No runs yet.');
      return [
        title(data.name || V.repo || 'Repository'), h('p', {class: 'headline'}, headline), quick,
        h('div', {class: 'columns'},
          h('div', null, h('h2', null, 'Branches'), branches, h('h2', null, 'Tags'), tags),
          h('div', {class: 'grow'}, h('h2', null, 'Recent commits'), commits)),
        h('h2', null, 'Runs'), runs
      ];
    });
  }

  function statusBadge(status) {
    return h('span', {class: 'status status-' + String(status || '').replace(/[^a-z-]/g, '')}, status);
  }

  function commitPage(rev) {
    return api('/commit/' + enc(rev)).then(function (c) {
      var files = c.files || {};
      var counts = files.counts || {};
      var fileSection = function (kind, heading) {
        var list = files[kind] || [];
        var total = counts[kind] !== undefined ? counts[kind] : list.length;
        if (!total) return null;
        var more = list.length < total ? h('p', {class: 'muted'}, 'The first ' + list.length + ' of ' + total + '.') : null;
        return section('files-' + kind, heading, total,
                       [table(['Path', 'Content id', 'Size'], list.map(function (f) {
                         return h('tr', {'data-path': f.path}, h('td', {class: 'mono'}, f.path),
                                  h('td', {class: 'mono'}, short(f.id)), h('td', {class: 'num'}, formatSize(f.size)));
                       }), {class: 'files'}), more]);
      };
      var fileCount = function (kind) {
        return counts[kind] !== undefined ? counts[kind] : (files[kind] || []).length;
      };
      var parents = (c.parents || []).map(function (p) {
        return h('span', {class: 'parent'}, commitLink(p), ' ');
      });
      var tables = (c.tables || []).map(function (t) {
        var tc = t.counts || {};
        var parent = (c.parents || [])[0];
        return h('section', {class: 'table-diff', 'data-table': t.path},
                 h('h2', null, 'Labels in ', h('span', {class: 'mono'}, t.path)),
                 h('p', {class: 'diff-summary'},
                   (tc.relabeled !== undefined ? tc.relabeled : (t.relabeled || []).length) + ' relabeled, ' +
                   (tc.added !== undefined ? tc.added : (t.added || []).length) + ' added, ' +
                   (tc.removed !== undefined ? tc.removed : (t.removed || []).length) + ' removed',
                   parent ? [' · ', h('a', {href: page('/diff/' + enc(parent) + '..' + enc(c.id), {labels: t.path})}, 'as a diff page')] : null,
                   ' · ', h('a', {href: page('/dataset/' + enc(c.id), {labels: t.path})}, 'browse at this commit')),
                 diffCards(t, 'h3'));
      });
      return [
        title('Commit ' + short(c.id)),
        h('div', {class: 'commit-head'},
          h('p', {class: 'subject', id: 'commit-subject'}, c.subject),
          c.message && c.message.trim() !== String(c.subject).trim()
              ? h('pre', {class: 'message'}, c.message) : null,
          h('p', {class: 'meta'}, h('span', {class: 'mono', id: 'commit-id'}, c.id), ' · ', c.author, ' · ',
            formatTime(c.time), parents.length ? [' · parents ', parents] : ' · root commit')),
        tables,
        h('h2', {id: 'files-summary'}, 'Files: ' + fileCount('added') + ' added, ' + fileCount('modified') +
          ' modified, ' + fileCount('deleted') + ' deleted'),
        fileSection('added', 'Added files'), fileSection('modified', 'Modified files'),
        fileSection('deleted', 'Deleted files')
      ];
    });
  }

  // The three lists of a label diff ({relabeled, added, removed}) as groups of cards.
  function diffCards(diff, headingTag) {
    var counts = diff.counts || {};
    var group = function (kind, heading, cards) {
      var total = counts[kind] !== undefined ? counts[kind] : cards.length;
      if (!total) return null;
      var shown = cards.length < total ? ' (first ' + cards.length + ')' : '';
      return h('div', {class: 'diff-group diff-' + kind, 'data-kind': kind},
               h(headingTag, null, heading, h('span', {class: 'count'}, ' ' + total + shown)),
               grid(cards, 'None.'));
    };
    return [
      group('relabeled', 'Relabeled', (diff.relabeled || []).map(function (s) {
        return sampleCard({path: s.path, id: s.id, label: s.new}, relabelLine(s.old, s.new));
      })),
      group('added', 'Added', (diff.added || []).map(function (s) {
        return sampleCard(s, labelLine(s.label, 'new'));
      })),
      group('removed', 'Removed', (diff.removed || []).map(function (s) {
        return sampleCard(s, labelLine(s.label, 'old'));
      }))
    ];
  }

  function datasetPage(rev, params) {
    var state = {
      labels: params.get('labels') || '',
      label: params.get('label') || '',
      path: params.get('path') || '',
      page: params.get('page') || '',
      per_page: params.get('per_page') || ''
    };
    var here = function (changes) {
      var next = Object.assign({}, state, changes);
      return page('/dataset/' + enc(rev), next);
    };
    return api('/dataset/' + enc(rev) + query(state)).then(function (d) {
      state.labels = d.table || state.labels;
      var counts = d.counts || {};
      var labels = Object.keys(counts).sort();
      var tables = d.tables || [];
      var tablePicker = tables.length > 1
          ? h('form', {id: 'table-form', method: 'get', action: page('/dataset/' + enc(rev)), class: 'inline'},
              h('label', null, 'Table ',
                h('select', {name: 'labels', id: 'table-select', onchange: function (e) { e.target.form.submit(); }},
                  tables.map(function (t) { return h('option', {value: t, selected: t === d.table}, t); }))))
          : h('span', {class: 'mono'}, d.table);
      var filter = h('div', {id: 'label-filter', class: 'chips'},
                     h('a', {href: here({label: '', page: ''}), class: 'chip' + (state.label ? '' : ' active'),
                             'data-label': ''}, 'all ', h('span', {class: 'n'}, d.rows)),
                     labels.map(function (label) {
                       return h('a', {
                         href: here({label: label, page: ''}),
                         class: 'chip' + (state.label === label ? ' active' : ''),
                         'data-label': label,
                         'data-count': counts[label]
                       }, label + ' ', h('span', {class: 'n'}, counts[label]));
                     }));
      var pathForm = h('form', {id: 'path-filter', method: 'get', action: page('/dataset/' + enc(rev)), class: 'inline'},
                       h('input', {type: 'hidden', name: 'labels', value: state.labels}),
                       state.label ? h('input', {type: 'hidden', name: 'label', value: state.label}) : null,
                       state.per_page ? h('input', {type: 'hidden', name: 'per_page', value: state.per_page}) : null,
                       h('input', {type: 'search', name: 'path', value: state.path, placeholder: 'path contains…',
                                   'aria-label': 'Path filter'}),
                       ' ', h('button', {type: 'submit'}, 'Filter'),
                       state.path ? [' ', h('a', {href: here({path: '', page: ''}), id: 'path-clear'}, 'clear')] : null);
      var pageNo = d.page || 1;
      var pages = d.pages || 1;
      var pager = h('nav', {id: 'pager', class: 'pager'},
                    pageNo > 1 ? h('a', {href: here({page: 1}), id: 'page-first'}, '« first') : h('span', {class: 'off'}, '« first'),
                    pageNo > 1 ? h('a', {href: here({page: pageNo - 1}), id: 'page-prev', rel: 'prev'}, '‹ previous')
                               : h('span', {class: 'off'}, '‹ previous'),
                    h('span', {id: 'page-info'}, 'page ' + pageNo + ' of ' + pages),
                    pageNo < pages ? h('a', {href: here({page: pageNo + 1}), id: 'page-next', rel: 'next'}, 'next ›')
                                   : h('span', {class: 'off'}, 'next ›'),
                    pageNo < pages ? h('a', {href: here({page: pages}), id: 'page-last'}, 'last »') : h('span', {class: 'off'}, 'last »'));
      // A writable session's select shows the label, so the card does not repeat it.
      var cards = (d.samples || []).map(function (s) {
        return sampleCard(s, CAN_WRITE ? null : labelLine(s.label), {table: d.table, labels: labels});
      });
      var gridEl = grid(cards, 'No sample matches.');
      gridEl.id = 'grid';
      return [
        title('Dataset', [h('span', {class: 'mono'}, rev), ' ', d.commit ? commitLink(d.commit) : null]),
        h('div', {class: 'toolbar'}, tablePicker, pathForm),
        filter,
        h('p', {id: 'matched', class: 'muted', 'data-matched': d.matched, 'data-rows': d.rows},
          d.matched + ' of ' + d.rows + ' samples' + (state.label ? ' labeled ' + state.label : '') +
          (state.path ? ' with "' + state.path + '" in the path' : '')),
        gridEl,
        pager
      ];
    });
  }

  function diffPage(range, params) {
    var labels = params.get('labels') || '';
    return api('/diff/' + enc(range) + query({labels: labels})).then(function (d) {
      var counts = d.counts || {};
      return [
        title('Label diff', h('span', {class: 'mono'}, range)),
        h('p', {class: 'meta'}, 'From ', commitLink(d.from), ' to ', commitLink(d.to), ' in ',
          h('span', {class: 'mono', id: 'diff-table'}, d.table)),
        h('p', {id: 'diff-counts', 'data-relabeled': counts.relabeled, 'data-added': counts.added,
                'data-removed': counts.removed},
          counts.relabeled + ' relabeled, ' + counts.added + ' added, ' + counts.removed + ' removed' +
          (counts.image_changed ? ', ' + counts.image_changed + ' with a changed image' : '') +
          (counts.unchanged !== undefined ? ', ' + counts.unchanged + ' unchanged' : '')),
        diffCards(d, 'h2')
      ];
    });
  }

  // ---- Runs table --------------------------------------------------------------------------------

  function runsPage(params) {
    return api('/runs').then(function (d) {
      var runs = d.runs || [];
      var columns = [
        {key: 'name', label: 'Run', get: function (r) { return r.name || short(r.commit); }, text: true},
        {key: 'kind', label: 'Kind', get: function (r) { return r.kind; }, text: true},
        {key: 'status', label: 'Status', get: function (r) { return r.status; }, text: true},
        {key: 'what', label: 'What', get: function (r) { return r.what; }, text: true},
        {key: 'dataset', label: 'Dataset', get: function (r) { return r.dataset_commit; }, text: true},
        {key: 'time', label: 'Time', get: function (r) { return r.time; }}
      ];
      // The run's name is its own column already.
      var configKeys = (d.columns || []).filter(function (key) { return key !== 'name'; });
      var metricNames = tableMetrics(d.metrics || []);
      configKeys.forEach(function (key) {
        columns.push({
          key: 'config.' + key, label: key, config: true,
          get: function (r) { return configValue((r.config || {})[key]); }
        });
      });
      metricNames.forEach(function (metric) {
        columns.push({
          key: 'best.' + metric, label: breakable(metric), metric: metric,
          get: function (r) { return (r.best || {})[metric]; }
        });
      });
      var sort = params.get('sort') || 'time';
      var desc = params.get('desc') === '1' || (!params.get('sort'));
      var thead = h('thead', null);
      var tbody = h('tbody', null);
      var tableEl = h('table', {id: 'runs-table', class: 'runs-table'}, thead, tbody);

      var draw = function () {
        clear(thead);
        clear(tbody);
        var groupRow = h('tr', {class: 'groups'});
        var headRow = h('tr', null);
        var groups = [['', 6, ''], ['config', configKeys.length, 'Config (what differs)'],
                      ['metrics', metricNames.length, 'Metrics: best (last)']];
        groups.forEach(function (g) {
          if (g[1]) append(groupRow, h('th', {colspan: g[1], class: 'group group-' + (g[0] || 'run')}, g[2]));
        });
        columns.forEach(function (col) {
          var active = col.key === sort;
          var th = h('th', {
            'data-col': col.key,
            class: 'sortable' + (active ? (desc ? ' sorted-desc' : ' sorted-asc') : '') +
                (col.metric || col.key === 'time' ? ' num' : ''),
            title: col.metric ? (lowerIsBetter(col.metric) ? 'lower is better' : 'higher is better') : 'sort'
          }, col.label, active ? (desc ? ' ▼' : ' ▲') : '');
          th.addEventListener('click', function () {
            if (sort === col.key) {
              desc = !desc;
            } else {
              sort = col.key;
              desc = col.metric ? !lowerIsBetter(col.metric) : col.key === 'time';
            }
            history.replaceState(null, '', page('/runs', {sort: sort, desc: desc ? '1' : '0'}));
            draw();
          });
          append(headRow, th);
        });
        append(thead, [groupRow, headRow]);
        var column = columns.filter(function (c) { return c.key === sort; })[0] || columns[5];
        var sorted = runs.slice().sort(function (a, b) {
          var x = column.get(a);
          var y = column.get(b);
          var missingX = x === undefined || x === null || x === '';
          var missingY = y === undefined || y === null || y === '';
          if (missingX || missingY) return missingX === missingY ? 0 : (missingX ? 1 : -1);
          var order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
          return desc ? -order : order;
        });
        sorted.forEach(function (r) {
          var id = r.name || r.commit;
          append(tbody, h('tr', {'data-run': id},
                          h('td', null, h('a', {href: page('/runs/' + enc(id))}, r.name || short(r.commit))),
                          h('td', null, r.kind), h('td', null, statusBadge(r.status)),
                          h('td', {class: 'what', title: r.what}, r.what),
                          h('td', null, r.dataset_commit ? commitLink(r.dataset_commit) : ''),
                          h('td', {class: 'time num'}, formatTime(r.time)),
                          configKeys.map(function (key) {
                            return h('td', {class: 'mono', 'data-col': 'config.' + key}, configValue((r.config || {})[key]));
                          }),
                          metricNames.map(function (metric) {
                            var best = (r.best || {})[metric];
                            var last = (r.last || {})[metric];
                            return h('td', {class: 'num metric', 'data-col': 'best.' + metric, 'data-value': best},
                                     h('span', {class: 'best'}, formatNumber(best)),
                                     last !== undefined && last !== best ? h('span', {class: 'last'}, ' (' + formatNumber(last) + ')') : null);
                          })));
        });
      };
      draw();
      return [
        title('Runs', h('span', {class: 'muted'}, runs.length + (runs.length === 1 ? ' run' : ' runs'))),
        runs.length ? h('div', {class: 'scroll'}, tableEl) : h('p', {class: 'muted', id: 'runs-table'}, 'No runs yet.'),
        h('p', {class: 'muted hint'}, 'Click a column header to sort. Metric columns show the best value and, in ' +
          'brackets, the last; learning rates per epoch are on each run\'s page.')
      ];
    });
  }

  // The metrics the table shows: accuracies first, then losses, then the rest; learning-rate
  // schedules (lr, head_lr) are settings, drawn on the run page instead.
  function tableMetrics(names) {
    var rank = function (name) { return /acc/.test(name) ? 0 : /loss/.test(name) ? 1 : 2; };
    return names.filter(function (name) { return !isLearningRate(name); }).sort(function (a, b) {
      return rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
    });
  }

  function isLearningRate(name) {
    return /(^|[._])lr$/.test(name);
  }

  // Long metric names may wrap after '_' or '.' in a narrow header.
  function breakable(name) {
    return name.replace(/([_.])/g, '$1\u200b');
  }

  // A config value is JSON text ("0.001", "\"sgd\""); strings are shown without their quotes.
  function configValue(text) {
    if (text === undefined || text === null) return '';
    if (typeof text !== 'string') return JSON.stringify(text);
    if (text.length > 1 && text[0] === '"') {
      try {
        return JSON.parse(text);
      } catch (e) {
        return text;
      }
    }
    return text;
  }

  // ---- Run page ----------------------------------------------------------------------------------

  function runPage(id, params) {
    var cellLabel = params.get('label');
    var cellPredicted = params.get('predicted');
    return api('/runs/' + enc(id)).then(function (r) {
      var configRows = Object.keys(r.config || {}).sort().map(function (key) {
        return h('tr', null, h('th', null, key), h('td', {class: 'mono'}, configValue(r.config[key])));
      });
      var nodes = [
        title('Run ' + (r.name || short(r.commit))),
        h('p', {class: 'meta'}, statusBadge(r.status), ' ', r.kind, ' · ', h('span', {class: 'what'}, r.what), ' · ',
          formatTime(r.time), ' · commit ', commitLink(r.commit), r.dataset_commit ? [' · dataset ', commitLink(r.dataset_commit)] : null),
        h('div', {class: 'columns'},
          h('div', {class: 'grow'}, h('h2', null, 'Curves'), curves(r.metrics || [])),
          h('div', {class: 'side'}, h('h2', null, 'Confusion matrix'), confusion(id, r, cellLabel, cellPredicted),
            h('h2', null, 'Config'),
            configRows.length ? h('table', {id: 'config', class: 'kv'}, h('tbody', null, configRows)) : h('p', {class: 'muted'}, 'None.')))
      ];
      var cellBox = h('div', {id: 'cell-samples'});
      nodes.push(cellBox);
      var classes = r.classes || [];
      var suspects = (r.suspects || []).map(function (s) {
        return sampleCard(s, [
          h('div', {class: 'label'}, 'label ', h('strong', null, s.label)),
          h('div', {class: 'label predicted'}, 'predicted ', h('strong', null, s.predicted)),
          s.p_label !== undefined ? h('div', {class: 'label muted'}, 'p(label) ' + formatNumber(s.p_label)) : null
        ], {table: suspectTable(r), labels: classes});
      });
      nodes.push(section('suspects', 'Suspects: samples most likely mislabeled', suspects.length,
                         [r.predictions_error ? h('p', {class: 'muted', id: 'predictions-error'}, r.predictions_error) : null,
                          grid(suspects, 'No suspects recorded.')]));
      nodes.push(h('details', {id: 'record'}, h('summary', null, 'run.json'),
                   h('pre', {class: 'mono'}, JSON.stringify(r.record, null, 2))));
      if (cellLabel !== null && cellPredicted !== null) {
        api('/runs/' + enc(id) + '/samples' + query({label: cellLabel, predicted: cellPredicted})).then(function (answer) {
          var cards = (answer.samples || []).map(function (s) {
            return sampleCard(s, [h('div', {class: 'label'}, 'label ', h('strong', null, s.label)),
                                  h('div', {class: 'label predicted'}, 'predicted ', h('strong', null, s.predicted))],
                              {table: suspectTable(r), labels: classes});
          });
          var matched = answer.matched !== undefined ? answer.matched : cards.length;
          append(cellBox, section('cell', 'Labeled ' + cellLabel + ', predicted ' + cellPredicted,
                                  matched + (cards.length < matched ? ' (first ' + cards.length + ')' : ''),
                                  grid(cards, 'No samples.')));
        }, function (error) {
          append(cellBox, h('div', {class: 'error'}, error.message));
        });
      }
      return nodes;
    });
  }

  // The label table a training run read, so that a fix from its suspects stages there.
  function suspectTable(r) {
    var splits = (r.record || {}).splits || {};
    var val = splits.val || {};
    var train = splits.train || {};
    return val.table || train.table || configValue((r.config || {}).labels) || '';
  }

  function confusion(id, r, cellLabel, cellPredicted) {
    var classes = r.classes || [];
    var matrix = r.confusion || [];
    if (!classes.length || !matrix.length) return h('p', {id: 'confusion', class: 'muted'}, 'This run has no confusion matrix.');
    var max = 0;
    matrix.forEach(function (row) { row.forEach(function (n) { if (n > max) max = n; }); });
    var head = h('tr', null, h('th', {class: 'corner'}, 'label \\ predicted'),
                 classes.map(function (c) { return h('th', {class: 'pred', title: c}, c); }));
    var rows = matrix.map(function (row, i) {
      return h('tr', null, h('th', {class: 'true'}, classes[i]), row.map(function (n, j) {
        var level = max ? n / max : 0;
        var cell = h('td', {
          class: 'num cell' + (i === j ? ' diag' : '') + (n ? '' : ' zero') +
              (classes[i] === cellLabel && classes[j] === cellPredicted ? ' selected' : ''),
          'data-label': classes[i],
          'data-predicted': classes[j],
          'data-count': n,
          style: n ? 'background: ' + (i === j ? 'rgba(29, 122, 58, ' : 'rgba(179, 38, 30, ') + (0.1 + 0.6 * level).toFixed(3) + ')' : null
        });
        append(cell, n ? h('a', {href: page('/runs/' + enc(id), {label: classes[i], predicted: classes[j]}) + '#cell-samples',
                                 title: n + ' labeled ' + classes[i] + ', predicted ' + classes[j]}, String(n)) : '0');
        return cell;
      }));
    });
    return h('div', {class: 'scroll'}, h('table', {id: 'confusion', class: 'confusion'}, h('thead', null, head), h('tbody', null, rows)));
  }

  // Metric curves as inline SVG: losses on one chart, values in [0, 1] (accuracies) on another,
  // and every other metric on its own; x is the epoch, else the step, else the row number.
  function curves(rows) {
    if (!rows.length) return h('p', {id: 'curves', class: 'muted'}, 'No metrics recorded.');
    var xKey = rows.some(function (m) { return m.epoch !== undefined; }) ? 'epoch'
        : rows.some(function (m) { return m.step !== undefined; }) ? 'step' : null;
    var names = [];
    rows.forEach(function (m) {
      Object.keys(m).forEach(function (key) {
        if (key !== 'epoch' && key !== 'step' && typeof m[key] === 'number' && names.indexOf(key) < 0) names.push(key);
      });
    });
    names.sort();
    var series = names.map(function (name) {
      var points = [];
      rows.forEach(function (m, i) {
        if (typeof m[name] === 'number' && isFinite(m[name])) points.push([xKey && m[xKey] !== undefined ? m[xKey] : i + 1, m[name]]);
      });
      return {name: name, points: points};
    }).filter(function (s) { return s.points.length; });
    var losses = series.filter(function (s) { return /loss/.test(s.name); });
    var scores = series.filter(function (s) { return /acc|f1|precision|recall|iou|auc/.test(s.name) && losses.indexOf(s) < 0; });
    var rates = series.filter(function (s) { return isLearningRate(s.name); });
    var others = series.filter(function (s) {
      return losses.indexOf(s) < 0 && scores.indexOf(s) < 0 && rates.indexOf(s) < 0;
    });
    var charts = [];
    if (losses.length) charts.push(chart('Loss', losses, xKey || 'row'));
    if (scores.length) charts.push(chart('Accuracy', scores, xKey || 'row'));
    if (rates.length) charts.push(chart('Learning rate', rates, xKey || 'row'));
    others.forEach(function (s) { charts.push(chart(s.name, [s], xKey || 'row')); });
    return h('div', {id: 'curves', class: 'charts'}, charts);
  }

  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

  // Round tick values covering [lo, hi]; `integers`: no step below 1 (epochs, steps).
  function niceTicks(lo, hi, count, integers) {
    if (lo === hi) {
      lo -= lo === 0 ? 1 : Math.abs(lo) * 0.1;
      hi += hi === 0 ? 1 : Math.abs(hi) * 0.1;
    }
    var step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
    var err = (hi - lo) / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    if (integers && step < 1) step = 1;
    var start = Math.floor(lo / step) * step;
    var end = Math.ceil(hi / step) * step;
    var ticks = [];
    for (var v = start; v <= end + step / 2; v += step) ticks.push(Number(v.toPrecision(10)));
    return ticks;
  }

  function chart(name, series, xLabel) {
    var W = 296, H = 200, L = 50, R = 10, T = 28, B = 38;
    var xs = [], ys = [];
    series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    var xt = niceTicks(Math.min.apply(null, xs), Math.max.apply(null, xs), 6,
                       xs.every(function (x) { return Number.isInteger(x); }));
    var yt = niceTicks(Math.min.apply(null, ys), Math.max.apply(null, ys), 5);
    var x0 = xt[0], x1 = xt[xt.length - 1], y0 = yt[0], y1 = yt[yt.length - 1];
    var px = function (x) { return L + (x - x0) / (x1 - x0 || 1) * (W - L - R); };
    var py = function (y) { return H - B - (y - y0) / (y1 - y0 || 1) * (H - T - B); };
    var g = svg('svg', {class: 'chart', width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img',
                        'aria-label': name, 'data-chart': name});
    append(g, svg('text', {x: L, y: 16, class: 'chart-title'}, name));
    yt.forEach(function (y) {
      append(g, [svg('line', {x1: L, x2: W - R, y1: py(y), y2: py(y), class: 'grid-line'}),
                 svg('text', {x: L - 6, y: py(y) + 4, class: 'tick', 'text-anchor': 'end'}, formatNumber(y))]);
    });
    var xStep = Math.max(1, Math.ceil(xt.length / 8));
    xt.forEach(function (x, i) {
      if (i % xStep) return;
      append(g, [svg('line', {x1: px(x), x2: px(x), y1: H - B, y2: H - B + 4, class: 'axis'}),
                 svg('text', {x: px(x), y: H - B + 16, class: 'tick', 'text-anchor': 'middle'}, formatNumber(x))]);
    });
    append(g, [svg('line', {x1: L, x2: W - R, y1: H - B, y2: H - B, class: 'axis x-axis'}),
               svg('line', {x1: L, x2: L, y1: T, y2: H - B, class: 'axis y-axis'}),
               svg('text', {x: (L + W - R) / 2, y: H - 6, class: 'axis-label', 'text-anchor': 'middle'}, xLabel)]);
    series.forEach(function (s, i) {
      var color = PALETTE[i % PALETTE.length];
      var d = s.points.map(function (p, k) { return (k ? 'L' : 'M') + px(p[0]).toFixed(1) + ' ' + py(p[1]).toFixed(1); }).join(' ');
      append(g, svg('path', {d: d, class: 'series', stroke: color, fill: 'none', 'data-series': s.name}));
      s.points.forEach(function (p) {
        append(g, svg('circle', {cx: px(p[0]).toFixed(1), cy: py(p[1]).toFixed(1), r: 2.5, fill: color},
                      svg('title', null, s.name + ' ' + formatNumber(p[1]) + ' at ' + xLabel + ' ' + formatNumber(p[0]))));
      });
    });
    // The legend sits top right on a white ground, so that lines under it stay apart from it.
    var legend = svg('g', {class: 'legend'});
    if (series.length > 1 || series[0].name !== name) {
      var width = 24 + 6.5 * Math.max.apply(null, series.map(function (s) { return s.name.length; }));
      var left = W - R - width;
      append(legend, svg('rect', {x: left - 4, y: 4, width: width + 4, height: 8 + 14 * series.length,
                                  class: 'legend-box'}));
      series.forEach(function (s, i) {
        var y = 16 + i * 14;
        append(legend, [svg('rect', {x: left, y: y - 5, width: 12, height: 3, fill: PALETTE[i % PALETTE.length]}),
                        svg('text', {x: left + 16, y: y, class: 'legend-text'}, s.name)]);
      });
    }
    append(g, legend);
    return h('figure', {class: 'chart-box'}, g);
  }

  // ---- vrepo serve: repositories and login ---------------------------------------------------

  function reposPage() {
    return api('/repos').then(function (d) {
      var repos = d.repos || [];
      var user = d.user || {};
      return [
        title('Repositories'),
        user.logged_in ? h('p', {class: 'muted'}, 'Logged in. ', logoutButton('/ui/api/logout'))
                       : h('p', null, h('a', {href: '/ui/login', id: 'login-link'}, 'Log in'), ' with a token to see more.'),
        repos.length ? h('ul', {id: 'repos', class: 'repos'}, repos.map(function (r) {
          return h('li', {'data-name': r.name}, h('a', {href: r.base + '/'}, r.name));
        })) : h('p', {id: 'repos', class: 'muted'}, 'No repository you can read.')
      ];
    });
  }

  function logoutButton(url) {
    return h('button', {id: 'logout', type: 'button', onclick: function () {
      api('', {root: url, body: {}}).then(function () { location.href = '/ui/'; }, function () { location.href = '/ui/'; });
    }}, 'Log out');
  }

  function loginPage(params) {
    var input = h('input', {id: 'token', name: 'token', type: 'password', autocomplete: 'off', size: 40,
                            'aria-label': 'Token', autofocus: true});
    var message = h('p', {id: 'login-error', class: 'error', hidden: true});
    var form = h('form', {id: 'login-form', class: 'login'},
                 h('label', null, 'Token ', input), ' ', h('button', {type: 'submit', id: 'login-submit'}, 'Log in'));
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      message.hidden = true;
      api('', {root: '/ui/api/login', body: {token: input.value}}).then(function () {
        var next = params.get('next') || '/ui/';
        // Only a path on this server: a login link must not send the browser elsewhere.
        // ('//host' and '/\host' are other hosts to a browser.)
        location.href = /^\/(?![\/\\])/.test(next) ? next : '/ui/';
      }, function (error) {
        message.textContent = error.status === 401 ? 'Unknown token.' : error.message;
        message.hidden = false;
      });
    });
    document.title = 'Log in · vrepo';
    return Promise.resolve([h('h1', null, 'Log in'), h('p', null, 'Paste a token from the server\'s tokens file.'), form, message]);
  }

  // ---- Routing -----------------------------------------------------------------------------

  function route() {
    var path = location.pathname;
    var params = new URLSearchParams(location.search);
    if (V.mode === 'serve' && !V.repo) {
      if (/\/login\/?$/.test(path)) return loginPage(params);
      return reposPage();
    }
    var rel = path.indexOf(BASE) === 0 ? path.slice(BASE.length) : path;
    rel = rel.replace(/\/+$/, '');
    var m;
    var decode = function (text) { return decodeURIComponent(text); };
    if (rel === '') return homePage();
    if ((m = /^\/commit\/(.+)$/.exec(rel))) return commitPage(decode(m[1]));
    if ((m = /^\/dataset\/(.+)$/.exec(rel))) return datasetPage(decode(m[1]), params);
    if ((m = /^\/diff\/(.+)$/.exec(rel))) return diffPage(decode(m[1]), params);
    if (rel === '/runs') return runsPage(params);
    if ((m = /^\/runs\/(.+)$/.exec(rel))) return runPage(decode(m[1]), params);
    return Promise.reject(new ApiError(404, 'No page at ' + path + '.'));
  }

  function drawNav() {
    var nav = document.getElementById('topnav');
    var home = document.getElementById('home-link');
    var name = document.getElementById('repo-name');
    if (home) home.setAttribute('href', V.mode === 'serve' ? '/ui/' : BASE + '/');
    if (!nav) return;
    clear(nav);
    if (V.mode === 'serve') append(nav, h('a', {href: '/ui/'}, 'Repositories'));
    if (V.repo || V.mode !== 'serve') {
      if (name) name.textContent = V.repo || '';
      append(nav, [h('a', {href: BASE + '/', id: 'nav-home'}, 'Home'), h('a', {href: BASE + '/runs', id: 'nav-runs'}, 'Runs')]);
    }
    append(nav, h('span', {id: 'access', class: 'access', 'data-can-write': CAN_WRITE ? '1' : '0'},
                  CAN_WRITE ? 'read-write' : 'read-only'));
  }

  function start() {
    app = document.getElementById('app');
    drawNav();
    loadStaged().then(route).then(function (nodes) {
      clear(app);
      append(app, nodes);
      document.body.setAttribute('data-ready', '1');
      if (location.hash) {
        var target = document.getElementById(location.hash.slice(1));
        if (target) target.scrollIntoView();
      }
    }).catch(function (error) {
      fail(error);
      document.body.setAttribute('data-ready', '1');
    });
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();

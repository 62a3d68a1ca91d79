// The docs page's Swagger UI set-up. Everything it loads comes from this api (the page's CSP allows nothing else).
// Accessibility choices (axe-core runs on this page in the browser tests):
// - no deep links: Swagger UI puts the deep-link anchor inside the operation's toggle button (nested-interactive);
// - no server picker: there is one server, and the picker's <select> has no accessible name;
// - operation summaries are plain text in OpenAPI (only descriptions are CommonMark), so `code` marks in them
//   would show as literal backticks: they are dropped from summaries before rendering;
// - colours: theme.css.
(function () {
  'use strict';

  var METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

  function plainText(s) {
    return typeof s === 'string' ? s.replace(/`([^`]*)`/g, '$1') : s;
  }

  /** Summaries without markdown code marks. */
  function tidy(spec) {
    var paths = (spec && spec.paths) || {};
    Object.keys(paths).forEach(function (path) {
      var item = paths[path] || {};
      METHODS.forEach(function (method) {
        var op = item[method];
        if (op && op.summary) op.summary = plainText(op.summary);
      });
    });
    return spec;
  }

  function NoServerPicker() {
    return {
      wrapComponents: {
        ServersContainer: function () {
          return function () {
            return null;
          };
        },
      },
    };
  }

  /** Names Swagger UI leaves out, and visible names it overrides with different words (WCAG 2.5.3). */
  var NAMES = [
    ['button.close-modal', function (el) { el.setAttribute('aria-label', 'Close'); }],
    ['textarea.body-param__text', function (el) { el.setAttribute('aria-label', 'Request body'); }],
    ['.auth-btn-wrapper button[aria-label]', function (el) { el.removeAttribute('aria-label'); }],
    // "Try it out" renders a boolean or enum parameter as a <select> with no label: name it after its parameter.
    ['tr[data-param-name] select:not([aria-label])', function (el) {
      var row = el.closest('tr[data-param-name]');
      el.setAttribute('aria-label', row.getAttribute('data-param-name') + ' (' + row.getAttribute('data-param-in') + ')');
    }],
    // Examples scroll sideways on a phone: reachable by keyboard.
    ['.highlight-code > pre:not([tabindex])', function (el) { el.setAttribute('tabindex', '0'); }],
  ];

  function label(root) {
    NAMES.forEach(function (fix) {
      root.querySelectorAll(fix[0]).forEach(fix[1]);
    });
  }

  function show(spec) {
    window.ui = SwaggerUIBundle({
      spec: tidy(spec),
      dom_id: '#swagger-ui',
      deepLinking: false,
      validatorUrl: null,
      persistAuthorization: false,
      syntaxHighlight: false,
      plugins: [NoServerPicker],
    });
    var root = document.getElementById('swagger-ui');
    new MutationObserver(function () {
      label(root);
    }).observe(root, { childList: true, subtree: true });
    label(root);
  }

  function fail(message) {
    var main = document.getElementById('swagger-ui');
    main.textContent = '';
    var p = document.createElement('p');
    p.className = 'docs-error';
    p.setAttribute('role', 'alert');
    p.textContent = message;
    main.appendChild(p);
  }

  fetch('/api/v1/openapi.json', { headers: { Accept: 'application/json' } })
    .then(function (res) {
      if (!res.ok) throw new Error('status ' + res.status);
      return res.json();
    })
    .then(show)
    .catch(function () {
      fail('The API description could not be loaded. Reload the page to try again.');
    });
})();

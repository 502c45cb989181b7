// Part of signseg (MIT). Loaded after require.js and before html-manager/dist/embed-amd.js.
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

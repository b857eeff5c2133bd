// Sets the colour theme before the page paints: a module script runs too late, and
// the content security policy refuses inline scripts. src/theme.ts keeps it up to date.
(function () {
  var saved = null;
  try {
    saved = localStorage.getItem("theme");
  } catch (error) {
    // Storage is off (a private window's settings): follow the system.
  }
  var system = typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
  var dark = saved === "dark" || (saved !== "light" && system);
  document.documentElement.classList.toggle("dark", dark);
})();

// Mounts Clerk's own sign-in or sign-up component (ClerkJS, loaded by the
// page from the instance's Frontend API) and sends the browser to the
// shop's return page afterwards, where the server turns the Clerk session
// into the shop's session.
(function () {
  "use strict";
  var node = document.getElementById("clerk-component");
  var script = document.getElementById("clerk-js");
  if (!node || !script) return;

  function fail() {
    var note = node.querySelector(".clerk-loading");
    if (note) note.textContent = "The sign-in form could not be loaded. Use your e-mail address and password below, or try again later.";
  }

  function mount() {
    var clerk = window.Clerk;
    if (!clerk || typeof clerk.load !== "function") { fail(); return; }
    clerk.load().then(function () {
      var done = node.dataset.completeUrl;
      var options = {
        signInUrl: node.dataset.signInUrl,
        signUpUrl: node.dataset.signUpUrl,
        forceRedirectUrl: done,
        signInForceRedirectUrl: done,
        signUpForceRedirectUrl: done
      };
      if (clerk.user) { window.location.assign(done); return; }
      var note = node.querySelector(".clerk-loading");
      if (note) note.remove();
      if (node.dataset.mode === "sign-up") clerk.mountSignUp(node, options);
      else clerk.mountSignIn(node, options);
    }, fail);
  }

  if (window.Clerk) mount();
  else {
    script.addEventListener("load", mount);
    script.addEventListener("error", fail);
    // The async script may have failed before this deferred one ran.
    window.setTimeout(function () { if (!window.Clerk) fail(); }, 15000);
  }
})();

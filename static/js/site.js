// Small progressive enhancements; every page works without this file.
document.documentElement.classList.add("js");

// The header's menu button (phones): shows and hides the links.
document.addEventListener("click", (event) => {
  const toggle = event.target.closest(".nav-toggle, .filters-toggle");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  const panel = document.getElementById(toggle.getAttribute("aria-controls"));
  if (panel) panel.classList.toggle("is-open", open);
});

// Every htmx request: a spinner in the header and its target region dimmed.
document.addEventListener("htmx:beforeRequest", (event) => {
  document.body.classList.add("is-loading");
  const target = event.detail.target;
  if (target) target.classList.add("is-updating");
});
document.addEventListener("htmx:afterRequest", (event) => {
  document.body.classList.remove("is-loading");
  const target = event.detail.target;
  if (target) target.classList.remove("is-updating");
});

// The phone's share sheet (Web Share API), where there is one; the share links stay.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-share-url]").forEach((button) => {
    if (!navigator.share) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.share({ title: button.dataset.shareTitle, text: button.dataset.shareText, url: button.dataset.shareUrl })
        .catch(() => {});
    });
  });
});
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = source.value || source.textContent;
  const done = (message) => {
    const status = document.getElementById(button.dataset.copyStatus || "");
    if (status) status.textContent = message;
    button.textContent = message;
    setTimeout(() => { button.textContent = button.dataset.label || "Copy"; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done("Copied!"), () => done("Press Ctrl+C to copy"));
  } else {
    if (source.select) source.select();
    try { document.execCommand("copy"); done("Copied!"); } catch (e) { done("Press Ctrl+C to copy"); }
  }
});

// Product images that fail to load show the placeholder (no inline handlers:
// the Content-Security-Policy forbids them). Errors before this script ran
// are caught by the check on load.
function useFallback(img) {
  if (img.dataset.fallback && img.src !== new URL(img.dataset.fallback, location.href).href) {
    img.src = img.dataset.fallback;
  }
}
document.addEventListener("error", (event) => {
  if (event.target instanceof HTMLImageElement && event.target.dataset.fallback) useFallback(event.target);
}, true);
function checkImages(root) {
  root.querySelectorAll("img[data-fallback]").forEach((img) => {
    if (img.complete && img.naturalWidth === 0) useFallback(img);
  });
}
document.addEventListener("DOMContentLoaded", () => checkImages(document));
document.addEventListener("htmx:afterSwap", (event) => checkImages(event.target));

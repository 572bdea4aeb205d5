// Small progressive enhancements; every page works without this file.
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

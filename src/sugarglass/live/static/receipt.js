// The receipt page's copy button. The Clipboard API works only in a secure context (https, or
// the installation opened as localhost); a tablet on the gallery network at http://name:8765
// has none, so there the code is selected instead and copied the old way, or by the device's
// own menu. body.dataset.copy says which way it went (for the tests).
"use strict";

(() => {
  const code = document.getElementById("receipt");
  const status = document.getElementById("copied");

  function select() {
    const range = document.createRange();
    range.selectNodeContents(code);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    let copied = false;
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    document.body.dataset.copy = "selection";
    status.textContent = copied ? "Copied." : "The code is selected: copy it with your device's menu.";
  }

  document.getElementById("copy").addEventListener("click", async () => {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(code.textContent.trim());
        document.body.dataset.copy = "clipboard";
        status.textContent = "Copied.";
        return;
      } catch { /* refused (no permission, no focus): select it instead */ }
    }
    select();
  });
})();

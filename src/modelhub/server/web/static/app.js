// The pages' only script (no inline handlers: the Content-Security-Policy forbids them).
document.addEventListener("DOMContentLoaded", () => {
  // revision selector: open the same page at the chosen branch or tag
  for (const sel of document.querySelectorAll("select[data-nav]")) {
    sel.addEventListener("change", () => { if (sel.value) window.location.href = sel.value; });
  }
  for (const sel of document.querySelectorAll("select[data-autosubmit]")) {
    sel.addEventListener("change", () => sel.form.submit());
  }
  // copy buttons: data-copy="text", or data-copy-next copies the <pre> that follows the button's header
  for (const btn of document.querySelectorAll(".copy-btn")) {
    btn.addEventListener("click", async () => {
      let text = btn.dataset.copy;
      if (text === undefined) {
        const pre = btn.closest(".snippet")?.querySelector("pre");
        text = pre ? pre.innerText : "";
      }
      try {
        await navigator.clipboard.writeText(text);
        const old = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(() => { btn.textContent = old; }, 1200);
      } catch (_) { /* clipboard not available (http): the text stays selectable */ }
    });
  }
  // buttons that ask before posting (revoke a token)
  for (const btn of document.querySelectorAll("button[data-confirm]")) {
    btn.addEventListener("click", (ev) => { if (!window.confirm(btn.dataset.confirm)) ev.preventDefault(); });
  }
});
